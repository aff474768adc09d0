"""The cat job: the course's two cat / non-cat image classifiers, on autograd_lite.

    python -m models.cat [--data PATH] [--out DIR] [--iterations N]
    autograd-lite cat ...                 (the same, once installed with pip)

Trains, on the 64x64 RGB cat / non-cat images (209 train, 50 test; 12,288
features), the course's

  2-layer  [12288, 7, 1]            weights randn * 0.01 after np.random.seed(1)
  L-layer  [12288, 20, 7, 5, 1]     weights randn / sqrt(n_prev) after np.random.seed(1)

both with full-batch gradient descent, learning rate 0.0075, 2,500
iterations, the cost written once as a Tensor expression and every gradient
taken from backward(). Prints each model's cost every 100 iterations and a
table of train and test accuracy next to the published values, and writes
into DIR:

  results.json       {model name: {"train_accuracy", "test_accuracy", "costs"}},
                     costs at iterations 0, 100, ..., 2400 (before that iteration's update)
  results.md         the table
  costs.png          the two cost curves
  misclassified.png  test images the L-layer model gets wrong, with their labels

As in the football job, the files are written into a hidden folder inside DIR
and replace the previous run's files there as one set at the end: a run that
fails or is stopped before then leaves DIR as it was, and one stopped while
replacing the set leaves a file INCOMPLETE in DIR, which the next complete run
removes. Other files in DIR are left alone.

Data: --data PATH (the project's catvnoncat.npz, or a folder holding it or the
course's train_catvnoncat.h5 and test_catvnoncat.h5, or one of those two files
with the other beside it), else the folder named by the environment variable
AUTOGRAD_LITE_DATA. Pixels must be 8-bit values, whole numbers 0..255. There is
no synthetic stand-in: without data the job exits with status 2 and says where
to put it.
"""
import argparse
import json
import sys
import time

import numpy as np
from matplotlib.figure import Figure  # the object API renders with Agg: no GUI, no global backend switch

from . import InitialCostError, TrainingDivergedError, data, deep
from .football import fingerprint, iteration_count, training_failure
from .outputs import INCOMPLETE, output_folder, staged_outputs

LEARNING_RATE = 0.0075
ITERATIONS = 2500
COST_EVERY = 100
SEED = 1
# name -> (layer dims, ag.init method). Both are initialized after np.random.seed(1): the legacy
# stream np.random.RandomState(1) draws W1, W2, ... in layer order, as the course's code does.
MODELS = {"2-layer": ([12288, 7, 1], "small"),
          "L-layer": ([12288, 20, 7, 5, 1], "lecun")}
# The course's printed accuracies after 2,500 iterations (train, test): 209 and 50 images,
# so 1.0 = 209/209, 0.72 = 36/50, 0.98564... = 206/209, 0.8 = 40/50.
PUBLISHED = {"2-layer": (1.0, 0.72), "L-layer": (0.9856459330143541, 0.8)}
# ... and the cost they print at iteration 2,400, as printed (the 2-layer's with every digit, the
# L-layer's with six decimals).
PUBLISHED_COST_2400 = {"2-layer": "0.048554785628770226", "L-layer": "0.092878"}
# SHA-256 of the real set's arrays as load_catvnoncat returns them (train_x, train_y, test_x,
# test_y as float64), to know when the published numbers apply.
REAL_DATA_SHA256 = "fe8b4ad41c62d790b0675a994bd436149d0d85b2ec12acbf1c7d7b57ebc0d736"
CLASSES = ("non-cat", "cat")
# The files the job writes into --out (the module docstring), checked before training.
OUTPUT_FILES = ("costs.png", "misclassified.png", "results.json", "results.md")


def train_model(name, train_x, train_y, iterations=ITERATIONS, progress=False):
    """Train one of MODELS as the course does (see the module docstring).

    Args:
        name: a key of MODELS; train_x: (12288, m); train_y: (1, m) 0/1;
        iterations: gradient-descent iterations (full batch: one per epoch).
    Returns:
        (params, costs): dict of Tensors W1..bL; the cost at iterations 0, 100, ...
        (each taken before that iteration's update).
    """
    layer_dims, init = MODELS[name]
    return deep.train(train_x, train_y, layer_dims, optimizer="gd", learning_rate=LEARNING_RATE,
                      num_epochs=iterations, mini_batch_size=None, init=init,
                      rng=np.random.RandomState(SEED), cost_every=COST_EVERY, progress=progress)


def accuracy(params, X, Y):
    """Fraction of examples (columns) whose prediction (AL > 0.5) equals the label."""
    return float(np.mean(deep.predict(params, X) == Y))


def results_table(results, published):
    """Markdown table of train / test accuracy (with the published values when ``published``)."""
    columns = ["model", "train accuracy", "test accuracy"]
    if published:
        columns += ["published train", "published test", "cost at it. 2,400", "published cost"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for name, r in results.items():
        cells = [name, f"{r['train_accuracy']:.4f}", f"{r['test_accuracy']:.4f}"]
        if published:
            printed = PUBLISHED_COST_2400[name]
            digits = len(printed.split(".")[1])  # ours to as many decimals as the course printed
            cells += [f"{PUBLISHED[name][0]:.4f}", f"{PUBLISHED[name][1]:.4f}",
                      f"{r['costs'][24]:.{digits}f}", printed]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_costs(path, results):
    """Both models' cost every 100 iterations on one plot."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for name, r in results.items():
        ax.plot(np.arange(len(r["costs"])) * COST_EVERY, r["costs"], marker=".", label=name)
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost")
    ax.set_title(f"cost during training (learning rate {LEARNING_RATE})")
    ax.legend()
    fig.savefig(path, dpi=100)


def plot_misclassified(path, params, test_x, test_y, limit=10, per_row=5):
    """Up to ``limit`` test images the model gets wrong, titled with label and prediction.

    Args:
        test_x: (12288, n) pixels / 255, column j image j in (row, column, channel) order;
        test_y: (1, n) 0/1.
    Returns:
        the number of misclassified test images.
    """
    predicted = deep.predict(params, test_x)[0]
    wrong = np.flatnonzero(predicted != test_y[0])
    shown = wrong[:limit]
    rows = max(1, -(-len(shown) // per_row))
    fig = Figure(figsize=(2.2 * per_row, 2.6 * rows + 0.5), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, per_row)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, j in zip(axes, shown):
        ax.imshow(test_x[:, j].reshape(64, 64, 3))
        ax.set_title(f"test image {j}\nlabel: {CLASSES[int(test_y[0, j])]}\npredicted: {CLASSES[predicted[j]]}",
                     fontsize=8)
    if not len(shown):
        axes[0].text(0.5, 0.5, "no misclassified test image", ha="center", va="center")
    fig.suptitle(f"misclassified test images: {len(wrong)} of {test_y.shape[1]}"
                 f"{'' if len(shown) == len(wrong) else f' (first {len(shown)} shown)'}", fontsize=10)
    fig.savefig(path, dpi=100)
    return len(wrong)


def main(argv=None, prog="python -m models.cat"):
    """Run the job with command-line arguments ``argv`` (None: sys.argv[1:]); returns 0, its exit
    status, when it succeeds. No data, bad data or bad arguments, and data on which a model's first
    cost overflows or its training diverges, raise ``SystemExit(2)`` (argparse's ``parser.error``)."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="catvnoncat.npz, or a folder holding it or the course's two .h5 files "
                                       f"(default: ${data.DATA_ENV})")
    parser.add_argument("--out", default="out/cat",
                        help="output directory (default: out/cat/, beside the football job's out/)")
    parser.add_argument("--iterations", type=iteration_count, default=ITERATIONS,
                        help=f"gradient-descent iterations per model (default {ITERATIONS})")
    args = parser.parse_args(argv)
    try:
        path = data.find_data(args.data, data.CAT_FILES)
        if path is None:
            parser.error("no cat / non-cat data: pass --data PATH (catvnoncat.npz, or a folder holding it or "
                         "the course's train_catvnoncat.h5 and test_catvnoncat.h5) or set the environment "
                         f"variable {data.DATA_ENV} to the folder holding them; the cat job has no "
                         "synthetic stand-in")
        train_x, train_y, test_x, test_y = data.load_catvnoncat(path)
    except (OSError, ValueError, ImportError) as error:
        parser.error(str(error))
    real = fingerprint((train_x, train_y, test_x, test_y)) == REAL_DATA_SHA256
    print(f"data: {path} ({train_x.shape[1]} train / {test_x.shape[1]} test images)"
          f"{' - the real set' if real else ''}")
    out = output_folder(parser, args.out, (*OUTPUT_FILES, INCOMPLETE))

    start = time.perf_counter()
    results, trained = {}, {}
    for name in MODELS:
        try:
            params, costs = train_model(name, train_x, train_y, args.iterations, progress=name)
        except (InitialCostError, TrainingDivergedError) as error:  # the data's doing: a data error, status 2
            parser.error(f"data {path}: {training_failure(name, error, LEARNING_RATE)}")
        trained[name] = params
        results[name] = {"train_accuracy": accuracy(params, train_x, train_y),
                         "test_accuracy": accuracy(params, test_x, test_y), "costs": [float(c) for c in costs]}
        print(f"\n{name} {MODELS[name][0]}:")
        for k, c in enumerate(costs):
            print(f"Cost after iteration {k * COST_EVERY}: {c}")
    seconds = time.perf_counter() - start

    published = real and args.iterations == ITERATIONS
    note = "" if published or not real else (
        f"\n(the published values are for {ITERATIONS:,} iterations; this run did {args.iterations:,})")
    table = results_table(results, published)
    print("\n" + table + note)
    with staged_outputs(out, OUTPUT_FILES, "cat") as staging:
        # The "wrote" line names these, not the folder's contents: it may hold the user's own files.
        files = {name: staging / name for name in OUTPUT_FILES}
        files["results.md"].write_text(f"data: {path}, {args.iterations} iterations\n\n{table}{note}\n")
        files["results.json"].write_text(json.dumps(results, indent=2) + "\n")
        plot_costs(files["costs.png"], results)
        wrong = plot_misclassified(files["misclassified.png"], trained["L-layer"], test_x, test_y)
    print(f"\nL-layer model: {wrong} misclassified test images (misclassified.png shows the first few)")
    print(f"training took {seconds:.1f} s; wrote {', '.join(files)} to {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
