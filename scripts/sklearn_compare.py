#!/usr/bin/python3
"""scikit-learn baseline for flowhawk's classifiers on NSL-KDD.

Uses the settings flowhawk's `train` defaults to (see docs/classifier.md):
trees on ordinal-encoded categoricals, lr/knn on one-hot + standardization,
nb on one-hot; constant training columns dropped.  Prints one JSON object
per (model, classes, test file) and, with --table, a Markdown table.

    /usr/bin/python3 scripts/sklearn_compare.py --data ../shared/datasets/nsl-kdd \
        --models rf,gbdt,dt,lr,nb,knn --classes 2,5 --jobs 2 --seed 1

xgb (XGBoost tree_method=hist, 100 rounds, depth 6, learning rate 0.1) needs
Debian's python3-xgboost.
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np

from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelEncoder, OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

FEATURES = ("duration protocol_type service flag src_bytes dst_bytes land wrong_fragment urgent hot "
            "num_failed_logins logged_in num_compromised root_shell su_attempted num_root "
            "num_file_creations num_shells num_access_files num_outbound_cmds is_host_login "
            "is_guest_login count srv_count serror_rate srv_serror_rate rerror_rate srv_rerror_rate "
            "same_srv_rate diff_srv_rate srv_diff_host_rate dst_host_count dst_host_srv_count "
            "dst_host_same_srv_rate dst_host_diff_srv_rate dst_host_same_src_port_rate "
            "dst_host_srv_diff_host_rate dst_host_serror_rate dst_host_srv_serror_rate "
            "dst_host_rerror_rate dst_host_srv_rerror_rate").split()
CATEGORICAL = ("protocol_type", "service", "flag")

CATEGORY = {"normal": "normal"}
for names, cat in (("back land neptune pod smurf teardrop apache2 mailbomb processtable udpstorm worm", "DoS"),
                   ("ipsweep nmap portsweep satan mscan saint", "Probe"),
                   ("ftp_write guess_passwd imap multihop phf spy warezclient warezmaster sendmail named "
                    "snmpgetattack snmpguess xlock xsnoop httptunnel", "R2L"),
                   ("buffer_overflow loadmodule perl rootkit ps sqlattack xterm", "U2R")):
    for n in names.split():
        CATEGORY[n] = cat


def read_nslkdd(path, classes):
    rows, labels = [], []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\r\n").split(",")
            if len(parts) < 42:
                continue
            rows.append(parts[:41])
            raw = parts[41]
            labels.append(raw if classes == 0 else ("normal" if raw == "normal" else "attack") if classes == 2
                          else CATEGORY[raw])
    cols = list(zip(*rows))
    data = {}
    for name, col in zip(FEATURES, cols):
        data[name] = np.array(col, dtype=object) if name in CATEGORICAL else np.array(col, dtype=np.float64)
    return data, np.array(labels)


def matrix(data, names):
    return np.column_stack([data[n] for n in names]).astype(object)


class LabelEncoded(BaseEstimator, ClassifierMixin):
    """Fits a model that wants integer classes (XGBoost) on string labels."""

    def __init__(self, model):
        self.model = model

    def fit(self, X, y):
        self.enc_ = LabelEncoder().fit(y)
        self.classes_ = self.enc_.classes_
        self.model.fit(np.asarray(X, dtype=np.float64), self.enc_.transform(y))
        return self

    def predict(self, X):
        return self.enc_.inverse_transform(self.model.predict(np.asarray(X, dtype=np.float64)))


def build(kind, cat_idx, seed, jobs):
    ordinal = ColumnTransformer([("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), cat_idx)],
                                remainder="passthrough")
    onehot = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), cat_idx)],
                               remainder="passthrough")
    if kind == "rf":
        return make_pipeline(ordinal, RandomForestClassifier(n_estimators=100, max_features="sqrt", n_jobs=jobs,
                                                             random_state=seed))
    if kind == "dt":
        return make_pipeline(ordinal, DecisionTreeClassifier(random_state=seed))
    if kind == "gbdt":
        return make_pipeline(ordinal, HistGradientBoostingClassifier(
            max_iter=100, learning_rate=0.1, max_depth=6, max_leaf_nodes=None, min_samples_leaf=20,
            l2_regularization=1.0, max_bins=255, early_stopping=False, random_state=seed))
    if kind == "xgb":
        # XGBoost's histogram method with the settings of our gbdt (Debian python3-xgboost).
        from xgboost import XGBClassifier
        return make_pipeline(ordinal, LabelEncoded(XGBClassifier(
            tree_method="hist", n_estimators=100, learning_rate=0.1, max_depth=6, min_child_weight=1,
            reg_lambda=1.0, max_bin=256, n_jobs=jobs, random_state=seed)))
    if kind == "lr":
        return make_pipeline(onehot, StandardScaler(), LogisticRegression(C=1.0, max_iter=200))
    if kind == "nb":
        return make_pipeline(onehot, GaussianNB(var_smoothing=1e-9))
    if kind == "knn":
        return make_pipeline(onehot, StandardScaler(), KNeighborsClassifier(n_neighbors=5, n_jobs=jobs))
    raise SystemExit(f"unknown model {kind}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/datasets/nsl-kdd")
    ap.add_argument("--train", default="KDDTrain+.txt")
    ap.add_argument("--tests", default="KDDTest+.txt,KDDTest-21.txt")
    ap.add_argument("--models", default="rf,gbdt,dt,lr,nb,knn")
    ap.add_argument("--classes", default="2,5")
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rows", type=int, default=0, help="use only the first N training rows")
    ap.add_argument("--table", action="store_true")
    a = ap.parse_args()
    results = []
    for classes in [int(c) for c in a.classes.split(",")]:
        tr, ytr = read_nslkdd(os.path.join(a.data, a.train), classes)
        if a.rows:
            tr = {k: v[:a.rows] for k, v in tr.items()}
            ytr = ytr[:a.rows]
        # drop constant training columns, as flowhawk does
        names = [n for n in FEATURES if len(set(tr[n].tolist())) > 1]
        cat_idx = [i for i, n in enumerate(names) if n in CATEGORICAL]
        Xtr = matrix(tr, names)
        tests = []
        for t in a.tests.split(","):
            te, yte = read_nslkdd(os.path.join(a.data, t), classes)
            tests.append((t, matrix(te, names), yte))
        for kind in a.models.split(","):
            model = build(kind, cat_idx, a.seed, a.jobs)
            t0, c0 = time.perf_counter(), time.process_time()
            model.fit(Xtr, ytr)
            train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
            for name, Xte, yte in tests:
                t0 = time.perf_counter()
                pred = model.predict(Xte)
                pred_s = time.perf_counter() - t0
                r = {"model": kind, "classes": classes, "test": name, "train_rows": len(ytr),
                     "accuracy": accuracy_score(yte, pred), "macro_f1": f1_score(yte, pred, average="macro"),
                     "train_seconds": train_s, "train_cpu_seconds": train_cpu, "predict_rows_per_s": len(yte) / pred_s,
                     "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
                results.append(r)
                print(json.dumps(r), flush=True)
    if a.table:
        print("\n| model | classes | test | accuracy | macro-F1 | train s |")
        print("|---|---|---|---|---|---|")
        for r in results:
            print(f"| {r['model']} | {r['classes']} | {r['test']} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} "
                  f"| {r['train_seconds']:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
