"""C source that scores a LightGBM model exactly as LightGBM does, generated from its text model.

LightGBM scores a dense float64 row as follows (4.x: c_api.cpp `RowPairFunctionFromDenseMatrix`,
predictor.hpp, gbdt_prediction.cpp `GBDT::PredictRaw`, tree.h `Tree::GetLeaf`):

* the row is first *normalised*: every value with ``fabs(v) <= kZeroThreshold`` (``(double)1e-35f``,
  so -0.0 and denormals too) becomes 0.0; NaN stays NaN;
* the raw score is ``0.0 + tree_0(row) + tree_1(row) + ...`` in double, in the model's tree order;
* a tree with categorical splits (``num_cat > 0``) routes each node by its ``decision_type`` bit 0;
  one without treats every node as numerical;
* numerical node (``missing_type = (decision_type >> 2) & 3``, ``default_left = decision_type & 2``):
  NaN becomes 0.0 unless the missing type is NaN; then a zero value (missing type Zero) or NaN
  (missing type NaN) goes the default way, and anything else goes left iff ``value <= threshold``;
* categorical node: NaN goes right; otherwise ``int(value)`` (C truncation; a negative result -
  including the out-of-range conversions of +-inf and |value| >= 2**31 on x86-64, which give INT_MIN -
  goes right) goes left iff its bit is set in the node's bitset (``cat_threshold`` words from
  ``cat_boundaries[k]`` to ``cat_boundaries[k + 1]``, ``k = int(threshold)``); a category beyond the
  bitset goes right. Saturating conversions (aarch64) send the same values right, so the generated
  code states the rule without the undefined conversion: only values in (-1, 2**31) are looked up.

Every decision is written out as one comparison or two, with the missing-value rule resolved at
generation time (e.g. a numerical node of missing type None sends NaN, read as 0.0, to the side
0.0 goes to: ``!(v > t)`` when ``0.0 <= t``, else ``v <= t``). Numbers are written as C99 hexadecimal
floats, which the compiler reads exactly; the source holds nothing but numbers from the model text.
Only additions in a fixed order touch the score, and the code is compiled without -ffast-math, so
the sums are LightGBM's, bit for bit.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

GENERATOR_VERSION = 1  # bump when the generated code changes: compiled libraries are keyed by it

_CATEGORICAL = 1
_DEFAULT_LEFT = 2
_MISSING_ZERO, _MISSING_NAN = 1, 2  # missing type None is 0
_MAX_FEATURES = 1 << 20


class ModelTextError(ValueError):
    """The model text is not a LightGBM model this generator can compile."""


@dataclass(frozen=True)
class Tree:
    num_leaves: int
    num_cat: int
    split_feature: tuple[int, ...]
    threshold: tuple[float, ...]
    decision_type: tuple[int, ...]
    left_child: tuple[int, ...]
    right_child: tuple[int, ...]
    leaf_value: tuple[float, ...]
    cat_boundaries: tuple[int, ...]
    cat_threshold: tuple[int, ...]
    internal_count: tuple[int, ...]
    leaf_count: tuple[int, ...]


@dataclass(frozen=True)
class Model:
    num_features: int
    trees: tuple[Tree, ...]


def parse(model_text: str) -> Model:
    """The trees of a single-output LightGBM text model (binary, regression...)."""
    header, _, body = model_text.partition("\nTree=")
    fields = _fields(header)
    if fields.get("version") not in {"v2", "v3", "v4"}:
        raise ModelTextError(f"unsupported model text version {fields.get('version')!r}")
    if _int(fields, "num_class", "1") != 1 or _int(fields, "num_tree_per_iteration", "1") != 1:
        raise ModelTextError("only single-output models can be compiled")
    if "average_output" in header.splitlines():
        raise ModelTextError("random-forest models (average_output) are not supported")
    num_features = _int(fields, "max_feature_idx", None) + 1
    if not 0 < num_features <= _MAX_FEATURES:
        raise ModelTextError(f"unsupported number of features {num_features}")
    trees_text, found, _ = ("Tree=" + body).partition("end of trees")
    if not found:
        raise ModelTextError("the model text has no 'end of trees' line")
    trees: list[Tree] = []
    for index, block in enumerate(trees_text.split("Tree=")[1:]):
        number, _, rest = block.partition("\n")
        if number.strip() != str(index):
            raise ModelTextError(f"tree {index} is out of order")
        trees.append(_tree(_fields(rest), index, num_features))
    return Model(num_features, tuple(trees))


def _fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def _int(fields: dict[str, str], key: str, default: str | None) -> int:
    value = fields.get(key, default)
    if value is None:
        raise ModelTextError(f"the model text has no {key}")
    try:
        return int(value)
    except ValueError:
        raise ModelTextError(f"{key} is not an integer: {value[:40]!r}") from None


def _ints(fields: dict[str, str], key: str, length: int | None) -> tuple[int, ...]:
    text = fields.get(key, "")
    try:
        values = tuple(int(part) for part in text.split())
    except ValueError:
        raise ModelTextError(f"{key} holds a non-integer") from None
    if length is not None and len(values) != length:
        raise ModelTextError(f"{key} has {len(values)} values, expected {length}")
    return values


def _floats(fields: dict[str, str], key: str, length: int) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in fields.get(key, "").split())
    except ValueError:
        raise ModelTextError(f"{key} holds a non-number") from None
    if len(values) != length:
        raise ModelTextError(f"{key} has {len(values)} values, expected {length}")
    return values


def _tree(fields: dict[str, str], index: int, num_features: int) -> Tree:
    where = f"tree {index}"
    if fields.get("is_linear", "0") != "0":
        raise ModelTextError(f"{where}: linear trees are not supported")
    num_leaves = _int(fields, "num_leaves", None)
    if num_leaves < 1:
        raise ModelTextError(f"{where}: num_leaves < 1")
    inner = num_leaves - 1
    num_cat = _int(fields, "num_cat", "0")
    leaf_value = _floats(fields, "leaf_value", num_leaves)
    if inner == 0:
        return Tree(1, 0, (), (), (), (), (), leaf_value, (), (), (), ())
    tree = Tree(
        num_leaves=num_leaves,
        num_cat=num_cat,
        split_feature=_ints(fields, "split_feature", inner),
        threshold=_floats(fields, "threshold", inner),
        decision_type=_ints(fields, "decision_type", inner),
        left_child=_ints(fields, "left_child", inner),
        right_child=_ints(fields, "right_child", inner),
        leaf_value=leaf_value,
        cat_boundaries=_ints(fields, "cat_boundaries", num_cat + 1) if num_cat > 0 else (),
        cat_threshold=_ints(fields, "cat_threshold", None) if num_cat > 0 else (),
        internal_count=_ints(fields, "internal_count", inner) if "internal_count" in fields else (),
        leaf_count=_ints(fields, "leaf_count", num_leaves) if "leaf_count" in fields else (),
    )
    _check(tree, where, num_features)
    return tree


def _check(tree: Tree, where: str, num_features: int) -> None:
    """Every index in range and every node reached exactly once from the root: a tree, no cycles."""
    inner = tree.num_leaves - 1
    if any(not 0 <= feature < num_features for feature in tree.split_feature):
        raise ModelTextError(f"{where}: split feature out of range")
    if any(not 0 <= word < 2**32 for word in tree.cat_threshold):
        raise ModelTextError(f"{where}: cat_threshold out of range")
    bounds = tree.cat_boundaries
    if tree.num_cat > 0 and (
        bounds[0] != 0 or bounds[-1] != len(tree.cat_threshold) or any(a > b for a, b in itertools.pairwise(bounds))
    ):
        raise ModelTextError(f"{where}: inconsistent cat_boundaries")
    seen_nodes = [False] * inner
    seen_leaves = [False] * tree.num_leaves
    for child in (*tree.left_child, *tree.right_child):
        if child >= 0:
            if child >= inner or child == 0 or seen_nodes[child]:
                raise ModelTextError(f"{where}: malformed child index")
            seen_nodes[child] = True
        else:
            if ~child >= tree.num_leaves or seen_leaves[~child]:
                raise ModelTextError(f"{where}: malformed leaf index")
            seen_leaves[~child] = True
    if not all(seen_nodes[1:]) or not all(seen_leaves):
        raise ModelTextError(f"{where}: unreachable nodes")
    for node in range(inner):
        if tree.num_cat > 0 and tree.decision_type[node] & _CATEGORICAL:
            cat = tree.threshold[node]
            if not (cat.is_integer() and 0 <= cat < tree.num_cat):
                raise ModelTextError(f"{where}: categorical split with an invalid bitset index")
        elif math.isnan(tree.threshold[node]):
            raise ModelTextError(f"{where}: NaN threshold")


def literal(value: float) -> str:
    """A C expression of exactly this double."""
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "HUGE_VAL" if value > 0 else "(-HUGE_VAL)"
    return f"({value.hex()})"


PREAMBLE = """\
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#define NF {num_features}
typedef void fh_tree_fn(const double *restrict rows, size_t n, double *restrict out);
static inline int fh_in(double v, const uint32_t *bits, int words) {{
  if (!(v > -1.0 && v < 2147483648.0)) return 0;
  int i = (int)v;
  return (i >> 5) < words && ((bits[i >> 5] >> (i & 31)) & 1u);
}}
"""


def tree_function(tree: Tree, index: int, hints: bool = True) -> str:
    """`static void t<index>(rows, n, out)`: adds the tree's value of each of n normalised rows of
    NF values to out[r]."""
    name = f"t{index}"
    lines: list[str] = []
    if tree.num_leaves == 1:
        body = f"  for (size_t r = 0; r < n; ++r) out[r] += {literal(tree.leaf_value[0])};\n"
        return f"static void {name}(const double *restrict rows, size_t n, double *restrict out) {{\n{body}}}\n"
    bitsets: list[str] = []
    if tree.num_cat > 0:
        for k in range(tree.num_cat):
            words = tree.cat_threshold[tree.cat_boundaries[k] : tree.cat_boundaries[k + 1]]
            values = ", ".join(f"{word}u" for word in words) or "0u"
            bitsets.append(f"static const uint32_t {name}c{k}[] = {{{values}}};\n")

    def count(child: int) -> int:
        if child < 0:
            return tree.leaf_count[~child] if tree.leaf_count else 0
        return tree.internal_count[child] if tree.internal_count else 0

    def emit(node: int, depth: int) -> None:
        pad = "  " * depth
        if node < 0:
            lines.append(f"{pad}v = {literal(tree.leaf_value[~node])};")
            return
        condition = _condition(tree, node, name)
        left, right = tree.left_child[node], tree.right_child[node]
        if hints and (count(left) or count(right)):
            condition = f"__builtin_expect(!!({condition}), {1 if count(left) >= count(right) else 0})"
        lines.append(f"{pad}if ({condition}) {{")
        emit(left, depth + 1)
        lines.append(f"{pad}}} else {{")
        emit(right, depth + 1)
        lines.append(f"{pad}}}")

    emit(0, 2)
    walk = "\n".join(lines)
    return (
        "".join(bitsets)
        + f"static void {name}(const double *restrict rows, size_t n, double *restrict out) {{\n"
        + "  for (size_t r = 0; r < n; ++r) {\n"
        + "    const double *x = rows + r * NF;\n"
        + "    double v;\n"
        + walk
        + "\n    out[r] += v;\n  }\n}\n"
    )


def _condition(tree: Tree, node: int, name: str) -> str:
    """C condition, true when the node sends the normalised row `x` left."""
    value = f"x[{tree.split_feature[node]}]"
    decision = tree.decision_type[node]
    threshold = tree.threshold[node]
    if tree.num_cat > 0 and decision & _CATEGORICAL:
        k = int(threshold)
        words = tree.cat_boundaries[k + 1] - tree.cat_boundaries[k]
        return f"fh_in({value}, {name}c{k}, {words})"
    t = literal(threshold)
    missing = (decision >> 2) & 3
    default_left = bool(decision & _DEFAULT_LEFT)
    if missing == _MISSING_ZERO:  # NaN reads as 0.0, and 0.0 goes the default way
        return f"(!({value} > {t}) || {value} == 0.0)" if default_left else f"({value} <= {t} && {value} != 0.0)"
    if missing == _MISSING_NAN:
        return f"!({value} > {t})" if default_left else f"{value} <= {t}"
    # missing type None (or unknown, which LightGBM treats alike): NaN reads as 0.0
    return f"!({value} > {t})" if threshold >= 0.0 else f"{value} <= {t}"


def part_source(model: Model, first: int, stop: int, part: int, hints: bool = True) -> str:
    """One compilation unit: trees [first, stop) and `fh_part<part>`, which adds their values to out
    in tree order."""
    chunks = [PREAMBLE.format(num_features=model.num_features)]
    chunks.extend(tree_function(model.trees[i], i, hints) for i in range(first, stop))
    table = ", ".join(f"t{i}" for i in range(first, stop))
    chunks.append(
        f"static fh_tree_fn *const fh_trees[] = {{{table}}};\n"
        f"void fh_part{part}(const double *restrict rows, size_t n, double *restrict out) {{\n"
        f"  for (size_t t = 0; t < sizeof fh_trees / sizeof fh_trees[0]; ++t) fh_trees[t](rows, n, out);\n"
        "}\n"
    )
    return "".join(chunks)


def main_source(model: Model, parts: int, key: str, block: int) -> str:
    """The exported entry point `fh_predict(rows, count, out)`: normalises up to `block` rows at a
    time into a buffer (on the stack for one short row) and runs every part over them; and the
    metadata checked on loading."""
    if not (len(key) < 200 and key.isascii() and key.replace("-", "").isalnum()):
        raise ValueError("the key must be short and alphanumeric")
    declarations = "".join(
        f"void fh_part{p}(const double *restrict rows, size_t n, double *restrict out);\n" for p in range(parts)
    )
    calls = "".join(f"    fh_part{p}(buf, m, out + s);\n" for p in range(parts))
    return (
        PREAMBLE.format(num_features=model.num_features)
        + "#include <stdlib.h>\n"
        + '#define EXPORT __attribute__((visibility("default")))\n'
        + declarations
        + f'EXPORT const char fh_key[] = "{key}";\n'
        + "EXPORT const int32_t fh_num_features = NF;\n"
        + f"EXPORT const int32_t fh_num_trees = {len(model.trees)};\n"
        + f"#define BLOCK {block}\n"
        + "#define SMALL (NF <= 4096 ? NF : 1)\n"
        + "static const double fh_zero = (double)1e-35f; /* LightGBM's kZeroThreshold */\n"
        + "EXPORT int fh_predict(const double *restrict rows, int64_t count, double *restrict out) {\n"
        + "  if (count <= 0) return 0;\n"
        + "  size_t n = (size_t)count;\n"
        + "  size_t cap = n < BLOCK ? n : BLOCK;\n"
        + "  double small[SMALL];\n"
        + "  double *buf = cap * NF <= SMALL ? small : malloc(cap * NF * sizeof(double));\n"
        + "  if (buf == NULL) return 1;\n"
        + "  for (size_t s = 0; s < n; s += cap) {\n"
        + "    size_t m = n - s < cap ? n - s : cap;\n"
        + "    const double *src = rows + s * NF;\n"
        + "    for (size_t i = 0; i < m * NF; ++i) buf[i] = fabs(src[i]) <= fh_zero ? 0.0 : src[i];\n"
        + "    for (size_t r = 0; r < m; ++r) out[s + r] = 0.0;\n"
        + calls
        + "  }\n"
        + "  if (buf != small) free(buf);\n"
        + "  return 0;\n"
        + "}\n"
    )
