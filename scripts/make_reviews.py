"""Write src/dlbench/configs/data/reviews.csv: 2,000 short synthetic film reviews labelled pos/neg, offline and
deterministic (seed 0). Word order matters: negations ("not good", "never dull") flip a phrase, and "but" makes
the second clause decide, so a bag of words is not enough and a recurrent reader has something to learn.

    .venv/bin/python scripts/make_reviews.py
"""
from __future__ import annotations

import csv
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "dlbench" / "configs" / "data" / "reviews.csv"
POS = ["good", "great", "moving", "funny", "clever", "beautiful", "gripping", "charming", "fresh", "superb"]
NEG = ["bad", "dull", "boring", "clumsy", "weak", "tedious", "messy", "flat", "silly", "awful"]
THINGS = ["film", "plot", "acting", "script", "ending", "score", "cast", "story", "camera work", "dialogue"]
OPENERS = ["", "honestly ", "overall ", "i thought ", "to be fair ", "in the end "]


def phrase(rng: random.Random) -> tuple[str, int]:
    """A clause and its polarity (+1 / -1)."""
    good = rng.random() < 0.5
    word = rng.choice(POS if good else NEG)
    negated = rng.random() < 0.3
    adverb = rng.choice(["", "really ", "quite ", "very "])
    text = f"the {rng.choice(THINGS)} was {'not ' if negated else ''}{adverb}{word}"
    return text, (1 if good else -1) * (-1 if negated else 1)


def review(rng: random.Random) -> tuple[str, str]:
    first, p1 = phrase(rng)
    if rng.random() < 0.4:  # "X but Y": the second clause decides
        second, p2 = phrase(rng)
        while p2 == p1:
            second, p2 = phrase(rng)
        return f"{rng.choice(OPENERS)}{first} but {second}", "pos" if p2 > 0 else "neg"
    if rng.random() < 0.5:
        second, p2 = phrase(rng)
        while p2 != p1:
            second, p2 = phrase(rng)
        return f"{rng.choice(OPENERS)}{first} and {second}", "pos" if p1 > 0 else "neg"
    return f"{rng.choice(OPENERS)}{first}", "pos" if p1 > 0 else "neg"


def main(out: Path = OUT, n: int = 2000) -> None:
    rng = random.Random(0)
    rows = [review(rng) for _ in range(n)]
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["review", "sentiment"])
        w.writerows(rows)


if __name__ == "__main__":
    main()
