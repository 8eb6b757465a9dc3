#!/usr/bin/env python3
"""Writes examples/data/digits.txt from scikit-learn's copy of the UCI optical digits data.

Run once with the system Python (Debian: apt-get install python3-sklearn, then
/usr/bin/python3 examples/data/export_digits.py); the file is checked in, so building and
testing do not need scikit-learn. Format: '#' lines are comments; every other line is one 8x8
image as 64 integer pixel values 0..16 (row by row) followed by its label 0..9, separated by
single spaces, in sklearn's order.
"""
import pathlib

import sklearn
from sklearn.datasets import load_digits


def main():
    digits = load_digits()
    out = pathlib.Path(__file__).with_name("digits.txt")
    with out.open("w") as f:
        f.write(f"# sklearn.datasets.load_digits() (scikit-learn {sklearn.__version__}; UCI ML "
                f"hand-written digits, test set of 'Optical Recognition of Handwritten Digits'), "
                f"{len(digits.target)} samples: 64 pixels 0..16 then the label; "
                f"written by examples/data/export_digits.py\n")
        for pixels, label in zip(digits.data, digits.target):
            f.write(" ".join(str(int(p)) for p in pixels) + f" {int(label)}\n")
    print(f"wrote {len(digits.target)} samples to {out}")


if __name__ == "__main__":
    main()
