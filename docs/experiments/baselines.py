#!/usr/bin/env python3
"""Standard text-classification baselines on KOTE's 4-class file.

Not part of the product: a yardstick for the embedded classifier (see
docs/emotion.md, "Against standard baselines"). It asks whether a well-known
learner on the same data gets closer to issue 3's targets (macro-F1 >= 0.65,
weighted F1 >= 0.80) than ours does.

    sudo apt-get install python3-sklearn      # Debian's scikit-learn 1.2
    /usr/bin/python3 docs/experiments/baselines.py ../shared/data/kote

Every figure is 5-fold stratified cross-validation (seed 1): no comment is
scored by a model that saw it. The stacked model takes about 8 minutes on
one core; the rest about 1 minute.
"""
import re
import sys

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, recall_score
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline, make_union
from sklearn.svm import LinearSVC

DATA = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/kote"
CLASSES = {"무감정": 0, "슬픔": 1, "기쁨": 2, "분노": 3}


def norm(t):
    """The same normalisation as emotion.normalize, in short."""
    t = t.lower()
    t = re.sub(r"ㅋ+", "ㅋㅋ", t)
    t = re.sub(r"ㅎ+", "ㅎㅎ", t)
    t = re.sub(r"[ㅠㅜ]+", "ㅠㅠ", t)
    return re.sub(r"(.)\1{2,}", r"\1\1", t)


def report(name, gold, pred):
    f1 = f1_score(gold, pred, average=None)
    print(
        f"{name:44s} n={len(gold)} macro-F1={f1_score(gold, pred, average='macro'):.4f} "
        f"weighted-F1={f1_score(gold, pred, average='weighted'):.4f} "
        f"sadness-recall={recall_score(gold, pred, average=None)[1]:.3f} "
        f"F1 (neu,sad,joy,ang)={np.round(f1, 3).tolist()}",
        flush=True,
    )


def flat():
    texts, gold = [], []
    with open(f"{DATA}/val-4class.tsv", encoding="utf-8") as f:
        next(f)
        for line in f:
            t, label = line.rstrip("\n").split("\t")
            texts.append(norm(t))
            gold.append(CLASSES[label])
    gold = np.array(gold)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=1).split(texts, gold))

    def cv(name, make):
        pred = np.zeros(len(gold), int)
        for tr, te in folds:
            clf = make().fit([texts[i] for i in tr], gold[tr])
            pred[te] = clf.predict([texts[i] for i in te])
        report(name, gold, pred)

    def chars(lo=1, hi=4):
        return TfidfVectorizer(analyzer="char_wb", ngram_range=(lo, hi), sublinear_tf=True)

    for c in (1, 3, 10):
        cv(f"tf-idf char 1-4, logistic, balanced, C={c}",
           lambda: make_pipeline(chars(), LogisticRegression(C=c, class_weight="balanced", max_iter=3000)))
    for c in (0.1, 0.3, 1):
        cv(f"tf-idf char 1-4, linear SVM, balanced, C={c}",
           lambda: make_pipeline(chars(), LinearSVC(C=c, class_weight="balanced")))
    cv("tf-idf char 1-5 + words 1-2, logistic, C=10",
       lambda: make_pipeline(
           make_union(chars(1, 5), TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True)),
           LogisticRegression(C=10, class_weight="balanced", max_iter=3000)))


def stacked():
    """44 one-vs-rest label models (all 5,000 comments' label sets, test fold
    excluded) plus the 4-class model, combined by a logistic meta-model trained
    on inner out-of-fold predictions."""
    four = {}
    with open(f"{DATA}/val-4class.tsv", encoding="utf-8") as f:
        next(f)
        for line in f:
            t, label = line.rstrip("\n").split("\t")
            four[t] = CLASSES[label]
    texts, multi, gold = [], [], []
    with open(f"{DATA}/val.tsv", encoding="utf-8") as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) < 3 or not p[2][:1].isdigit():
                continue
            m = np.zeros(44)
            for i in p[2].split(","):
                m[int(i)] = 1
            texts.append(norm(p[1]))
            multi.append(m)
            gold.append(four.get(p[1], -1))
    texts, multi, gold = np.array(texts, dtype=object), np.array(multi), np.array(gold)
    labelled, ambiguous = np.where(gold >= 0)[0], np.where(gold < 0)[0]

    def features(tr, te):
        v = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True)
        xtr, xte = v.fit_transform(texts[tr]), v.transform(texts[te])
        aux = np.zeros((len(te), 44))
        for j in range(44):
            if multi[tr, j].sum() >= 3:
                m = LogisticRegression(C=1, max_iter=2000, class_weight="balanced").fit(xtr, multi[tr, j])
                aux[:, j] = m.predict_proba(xte)[:, 1]
        lt = tr[gold[tr] >= 0]
        direct = LogisticRegression(C=1, class_weight="balanced", max_iter=3000).fit(v.transform(texts[lt]), gold[lt])
        return np.hstack([aux, direct.predict_proba(xte)])

    pred = np.zeros(len(labelled), int)
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=1).split(labelled, gold[labelled]):
        tri, tei = labelled[tr], labelled[te]
        inner = np.zeros((len(tri), 48))
        for a, b in KFold(5, shuffle=True, random_state=2).split(tri):
            inner[b] = features(np.concatenate([tri[a], ambiguous]), tri[b])
        meta = LogisticRegression(C=1, class_weight="balanced", max_iter=3000)
        meta.fit(np.log(inner + 1e-4), gold[tri])
        pred[te] = meta.predict(np.log(features(np.concatenate([tri, ambiguous]), tei) + 1e-4))
    report("stacked: 44 label models + 4-class, logistic", gold[labelled], pred)


if __name__ == "__main__":
    flat()
    if "--no-stack" not in sys.argv:
        stacked()
