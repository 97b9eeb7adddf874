"""How an analyst reads a trained version's figures: AFD's words for an Account Takeover Insights
Anomaly Separation Index, and the challenge-rate rows AWS's ATI notebook picks. The CLI's summary and
the console's version page both read them here.
"""

from __future__ import annotations

import math

#: AFD's reading of the Anomaly Separation Index
ASI_HIGH = 0.9
ASI_GOOD = 0.75
#: the challenge rates of the summary table, as AWS's ATI notebook bins them (1% to 6%)
CR_BINS = (1, 2, 3, 4, 5, 6)
#: AFD reports the ATO discovery rate only with this many entities with a labelled takeover
ATODR_ENTITIES = 50


def asi_meaning(asi: float) -> str:
    """AFD's words for an Anomaly Separation Index."""
    if asi >= ASI_HIGH:
        return "high"
    if asi >= ASI_GOOD:
        return "good"
    return "poor"


def cr_table(points: list[dict[str, float]]) -> list[dict[str, float]]:
    """One point per challenge-rate bin of 1% to 6%, as AWS's ATI notebook picks them: the smallest
    threshold whose challenge rate falls in the bin ((k-1)% < cr <= k%)."""
    chosen: dict[int, dict[str, float]] = {}
    for point in points:
        cr = point["cr"]
        if cr <= 0:
            continue
        percent = math.ceil(round(cr * 100, 9))  # 0.03 * 100 is 3.0000000000000004
        if percent in CR_BINS and (percent not in chosen or point["threshold"] < chosen[percent]["threshold"]):
            chosen[percent] = point
    return [chosen[k] for k in sorted(chosen)]
