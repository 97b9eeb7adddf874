"""DETECTORPL, AFD's rule language: parse, type-check and compile rule expressions to fast closures.

    rule = compile_rule('$amt > 500 and $email_domain in @bad_domains', RuleEnv(variables, lists))
    rule.evaluate({"amt": 710.25, "email_domain": "x.io"}, {"bad_domains": frozenset({"x.io"})})  # True
    rule.with_values({...})  # '710.25 > 500 and "x.io" in @bad_domains'

The language (AFD's documented syntax; where AFD is silent, fraudhawk's choices are marked *):

- `$name` is a variable of the event type (or a model score `$<model>_insightscore`, an external
  model output); `@name` a list, only after `in` / `not in`; at most 3 distinct lists per rule.
- Literals: numbers (`5`, `2.5`, `1e3`), double-quoted strings, `true` / `false` (any case), and
  literal lists `[5, 10, 25]`, `["US", "CA"]` (constants only). In strings `\\"`, `\\\\`, `\\n`, `\\t`,
  `\\r` are escapes and any other backslash is kept as written, so `".*@gmail\\.com"` is the regex
  the docs show.
- Operators, loosest first: `or` < `and` < `!` < comparisons `== != < <= > >=` and `in`, `not in`
  (not chainable) < `+ -` < `* / %` < unary `-`. So `! $a > 5` is `!($a > 5)`; binary operators
  are left-associative; parentheses group. Keywords are case-insensitive.*
- Types: STRING, INTEGER, FLOAT, BOOLEAN, DATETIME. INTEGER and FLOAT mix as numbers; `+ - * %`
  of two INTEGERs is an INTEGER (64-bit), `/` is always FLOAT, `%` keeps the dividend's sign (as in
  Java)*. Strings compare with strings (by code point), booleans only with `==`/`!=`, DATETIMEs with
  each other. Anything else (`$amount > "5"`, `lowercase($amount)`, `$s + 1`) is a compile error,
  as is an expression that is not a condition. There is no string concatenation and no if/else.
- Functions: `regex_match("<pattern>", text)` (RE2, full-string match as Java's `matches()`, so
  `"^abc"` matches only "abc"; the pattern must be a literal and is compiled once; a number is
  matched as its decimal text); `lowercase(s)`, `uppercase(s)`; `is_missing(x)`, `is_present(x)`*.
- DATETIME functions*: AFD added DateTime functions in June 2023 without publishing their names,
  so these are fraudhawk's: `datetime("2024-01-01T00:00:00Z")` (a literal is checked at compile
  time; a text expression that is no timestamp is missing), `days_between(a, b)`,
  `hours_between`, `minutes_between`, `seconds_between` (b - a, FLOAT), `hour_of_day(t)` (0-23),
  `day_of_week(t)` (1 = Monday ... 7 = Sunday), `day_of_month(t)`, `month_of_year(t)`; all UTC.
- Missing values*: a value may be missing (unparsable event text, a score that could not be
  computed, an absent variable). Arithmetic or a function with a missing operand is missing, and
  so is a division by zero or an INTEGER leaving 64 bits; a comparison, membership or regex with a
  missing operand is UNKNOWN; `and`, `or`, `!` follow Kleene's three-valued logic; a rule matches
  only when the whole expression is TRUE. `is_missing(x)` is never UNKNOWN. Evaluation never raises.
- Lists*: `@list` elements are text. A STRING value is a member when, stripped of surrounding
  whitespace, it equals an element exactly (case matters); numbers compare numerically with the
  elements that read as numbers; BOOLEAN and DATETIME values with the elements that read as such.
  A list absent from `evaluate`'s `lists` makes the test UNKNOWN. Literal lists `[...]` compare
  exactly as `==` does.
- Limits: 4096 characters; nesting deeper than 100 levels is rejected.
"""

from fraudhawk.rules.env import RuleEnv
from fraudhawk.rules.errors import RuleError
from fraudhawk.rules.functions import FUNCTIONS
from fraudhawk.rules.rule import CompiledRule, compile_rule
from fraudhawk.rules.values import Timestamp, Value, coerce, render_value

__all__ = [
    "FUNCTIONS",
    "CompiledRule",
    "RuleEnv",
    "RuleError",
    "Timestamp",
    "Value",
    "coerce",
    "compile_rule",
    "render_value",
]
