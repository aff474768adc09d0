"""The main job: the regularization study, end to end.

    python -m models.football [--data PATH | --data synthetic] [--out DIR] [--iterations N]
    autograd-lite football ...            (the same, once installed with pip)

Trains the [2, 20, 3, 1] network four ways (no regularization, L2 with
lambd = 0.7, dropout with keep_prob = 0.86, and both together) from the
exercise's initialization, prints a results table (next to the published
values when the data is the real set) and writes into DIR:

  results.md          the table (no timings: the file is the same on every run)
  results.json        {model name: {"train_accuracy", "test_accuracy", "costs"}},
                      costs every 1,000 iterations (before that iteration's update)
  data.png            the train and test sets, by class
  costs.png           the cost curves of the four models
  boundary_<m>.png    each model's decision regions (m: none, l2, dropout, l2_dropout)
  cost_formula.tex    the regularized cost as LaTeX (ag.formula)
  cost_graph.svg/png  its drawn compute graph (needs Graphviz's dot; skipped with a note otherwise)

The files are written into a hidden folder inside DIR and replace the previous
run's files there as one set at the end, so DIR holds one complete run: a run
that fails or is stopped before then leaves DIR as it was, and one stopped
while replacing the set leaves a file INCOMPLETE in DIR, which the next
complete run removes. Other files in DIR are left alone.

Data: --data PATH reads that file (the project's football.npz or the course's
data.mat) or looks in that folder; without --data, the folder named by the
environment variable AUTOGRAD_LITE_DATA; without either, the synthetic
stand-in of models.data (--data synthetic forces it).
"""
import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # the object API renders with Agg: no GUI, no global backend switch

import autograd_lite as ag

from . import InitialCostError, TrainingDivergedError, data, manual, three_layer
from .outputs import INCOMPLETE, output_folder, staged_outputs

# SHA-256 of the real set's four float64 arrays (train_X, train_Y, test_X, test_Y), to know
# when the published numbers apply.
REAL_DATA_SHA256 = "6d7306196c3bdeb9690261c31accf8dac21ab91e9aac794d8f357ac1e8cd2873"

# name, lambd, keep_prob, file slug
MODELS = [("no regularization", 0.0, 1.0, "none"),
          ("L2, lambd = 0.7", 0.7, 1.0, "l2"),
          ("dropout, keep_prob = 0.86", 0.0, 0.86, "dropout"),
          ("L2 + dropout", 0.7, 0.86, "l2_dropout")]
# Every file the job may write into --out (the module docstring), checked before training.
OUTPUT_FILES = ("results.md", "results.json", "data.png", "costs.png",
                *(f"boundary_{slug}.png" for *_, slug in MODELS),
                "cost_formula.tex", "cost_graph.svg", "cost_graph.png")
# The published study (30,000 iterations on the real set; docs/reproduce.md): train accuracy,
# test accuracy, cost at iteration 20,000.
PUBLISHED = {"none": (0.9478672985781991, 0.915, 0.13851642423234922),
             "l2": (0.9383886255924171, 0.93, 0.26809163371273004),
             "dropout": (0.9289099526066351, 0.95, 0.060582435798513114)}
PUBLISHED_ITERATIONS = 30000
LEARNING_RATE = 0.3  # the study's, for every model; the job has no option for it
# The most --iterations either job takes: a billion steps already take days, and a count past
# sys.maxsize cannot be counted by the progress bar (tqdm's len() overflows).
MAX_ITERATIONS = 10 ** 9
BOUNDARY_REGION = ((-0.75, 0.40), (-0.75, 0.65))  # x range, y range


def fingerprint(arrays):
    """SHA-256 hex digest of arrays' float64 bytes, in order."""
    digest = hashlib.sha256()
    for a in arrays:
        digest.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    return digest.hexdigest()


def resolve_data(option):
    """(arrays, description) for the --data option: a file, a folder, "synthetic" or None
    (then AUTOGRAD_LITE_DATA, else synthetic; see the module docstring)."""
    path = None if option == "synthetic" else data.find_data(option, data.FOOTBALL_FILES)
    if path is None:
        return data.load_football(None), "synthetic stand-in (synthetic_football)"
    return data.load_football(path), str(path)


def iteration_count(text):
    """The jobs' ``--iterations`` (an argparse type): an int from 1 to ``MAX_ITERATIONS``, else a
    usage error (status 2) naming the option and the range, before any data is read (a count past
    sys.maxsize would otherwise end in an OverflowError traceback from the progress bar)."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 1 <= value <= MAX_ITERATIONS:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1 and <= {MAX_ITERATIONS:,}, got {text!r}")
    return value


def accuracy(params, X, Y):
    """Fraction of examples (columns) whose prediction equals the label."""
    return float(np.mean(three_layer.predict(params, X) == Y))


def run_models(train_X, train_Y, test_X, test_Y, iterations):
    """Train each model of MODELS with init="reference" (a tqdm bar each, on stderr).

    Returns:
        list of dicts: name, slug, lambd, keep_prob, params, costs, train, test,
        final_cost (after the last update), seconds (printed, never written to a file).
    Raises:
        InitialCostError, TrainingDivergedError: as ``three_layer.train``, the message starting with
            the model's name (``training_failure``).
    """
    results = []
    for name, lambd, keep_prob, slug in MODELS:
        start = time.perf_counter()
        try:
            params, costs = three_layer.train(train_X, train_Y, learning_rate=LEARNING_RATE, num_iterations=iterations,
                                              lambd=lambd, keep_prob=keep_prob, init="reference", progress=name)
        except (InitialCostError, TrainingDivergedError) as error:
            raise type(error)(training_failure(name, error, LEARNING_RATE)) from error
        seconds = time.perf_counter() - start
        result = {"name": name, "slug": slug, "lambd": lambd, "keep_prob": keep_prob,
                  "params": params, "costs": costs, "seconds": seconds,
                  "train": accuracy(params, train_X, train_Y), "test": accuracy(params, test_X, test_Y)}
        result["final_cost"] = model_cost(result, train_X, train_Y).item()
        results.append(result)
    return results


def training_failure(name, error, learning_rate):
    """What to tell a job's user when the model ``name`` stopped on the data: ``error``, an
    InitialCostError or a TrainingDivergedError (both name the iteration and the largest |feature|),
    after the model's name. A divergence's own advice includes a smaller learning rate, which a
    job takes no option for: the message says so, and what is left to check (the features' scale)."""
    text = f"model {name!r}: {error}"
    if isinstance(error, TrainingDivergedError):
        text += (f". This job trains at the course's learning rate {learning_rate}, which it has no option for: "
                 "check the scale of the data's features (the course's are of order 1; rescale them, e.g. to "
                 "mean 0 and standard deviation 1), or train the model yourself with a smaller learning_rate")
    return text


def results_table(results, published):
    """The results as a Markdown table; ``published`` adds the published values. No
    timings: the table is written to results.md, which should not change between runs."""
    columns = ["model", "train accuracy", "test accuracy", "final cost"]
    if published:
        columns += ["published train", "published test", "cost at it. 20,000", "published cost at it. 20,000"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in results:
        cells = [r["name"], f"{r['train']:.4f}", f"{r['test']:.4f}", f"{r['final_cost']:.6f}"]
        if published:
            reference = PUBLISHED.get(r["slug"])
            ours_20k = f"{r['costs'][20]:.12f}" if len(r["costs"]) > 20 else "n/a"
            cells += ([f"{reference[0]:.4f}", f"{reference[1]:.4f}", ours_20k, f"{reference[2]:.12f}"]
                      if reference else ["n/a", "n/a", ours_20k, "n/a"])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def results_json(results):
    """The layout every job writes: {model name: {"train_accuracy": float,
    "test_accuracy": float, "costs": [float, ...]}} (here a cost every 1,000 iterations)."""
    return {r["name"]: {"train_accuracy": r["train"], "test_accuracy": r["test"],
                        "costs": [float(c) for c in r["costs"]]} for r in results}


def model_cost(result, X, Y):
    """The model's cost J at its trained parameters (recorded, not yet backpropagated),
    with its L2 term and, for dropout, the exercise's masks."""
    keep_prob = result["keep_prob"]
    masks = (manual.reference_dropout_masks(three_layer.LAYER_DIMS[1:-1], X.shape[1], keep_prob)
             if keep_prob < 1 else None)
    return three_layer.cost(result["params"], X, Y, result["lambd"], keep_prob, masks=masks)


def plot_data(path, train_X, train_Y, test_X, test_Y):
    """Scatter of the training and test sets, coloured by class."""
    fig = Figure(figsize=(9, 4))
    for ax, X, Y, title in zip(fig.subplots(1, 2), (train_X, test_X), (train_Y, test_Y), ("train", "test")):
        _scatter(ax, X, Y)
        ax.set_title(f"{title} set ({X.shape[1]} points)")
    fig.savefig(path, dpi=100)


CLASS_COLOURS = {0: "tab:blue", 1: "tab:red"}  # the two ends of the regions' coolwarm map


def _scatter(ax, X, Y):
    """The points by class, one legend entry per class."""
    for label, colour in CLASS_COLOURS.items():
        chosen = Y[0] == label
        ax.scatter(X[0, chosen], X[1, chosen], color=colour, s=18, edgecolors="k", linewidths=0.3,
                   label=f"class {label} ({chosen.sum()} points)")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.legend(loc="best", fontsize="small")


def plot_costs(path, results):
    """The cost every 1,000 iterations of each model on one plot."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for r in results:
        ax.plot(np.arange(len(r["costs"])) * 1000, r["costs"], marker=".", label=r["name"])
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost")
    ax.set_title("cost during training (taken before each 1,000th update)")
    ax.legend()
    fig.savefig(path, dpi=100)


def plot_boundary(path, result, train_X, train_Y, step=0.005):
    """The model's decision regions over BOUNDARY_REGION with the training points on top."""
    (x_min, x_max), (y_min, y_max) = BOUNDARY_REGION
    xx, yy = np.meshgrid(np.arange(x_min, x_max, step), np.arange(y_min, y_max, step))
    grid = np.vstack([xx.ravel(), yy.ravel()])
    regions = three_layer.predict(result["params"], grid).reshape(xx.shape)
    fig = Figure(figsize=(6, 5.8), layout="constrained")
    ax = fig.subplots()
    ax.contourf(xx, yy, regions, levels=[-0.5, 0.5, 1.5], colors=[CLASS_COLOURS[0], CLASS_COLOURS[1]],
                alpha=0.2)
    _scatter(ax, train_X, train_Y)
    # Below the axes: inside, any corner would hide training points.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize="small",
              title="training points (shaded: the class the model predicts there)", title_fontsize="small")
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(y_min, y_max)
    ax.set_title(f"{result['name']}: train {result['train']:.3f}, test {result['test']:.3f}")
    fig.savefig(path, dpi=100)


def write_graph(out, result, train_X, train_Y):
    """Write the formula of the regularized cost (L2 + dropout, the exercise's masks)
    at the trained parameters, and draw its graph as SVG and PNG when Graphviz's
    ``dot`` is installed (a note on stderr otherwise); returns the names written."""
    J = model_cost(result, train_X, train_Y)
    written = ["cost_formula.tex"]
    (out / written[0]).write_text(
        "% The regularized cost of models/three_layer.py (L2 + dropout), as ag.formula writes it.\n"
        f"$$ {ag.formula(J)} $$\n\n% Expanded down to the parameters and data:\n"
        f"$$ {ag.formula(J, expand=True)} $$\n")
    try:
        for fmt in ("svg", "png"):
            written.append(Path(ag.draw(J, out / f"cost_graph.{fmt}", format=fmt)).name)
    except RuntimeError as error:  # no `dot` on PATH: the rest of the job still stands
        print(f"compute graph not drawn: {error}", file=sys.stderr)
    return written


def write_plots(out, results, train_X, train_Y, test_X, test_Y):
    """The data, cost and decision-region plots; returns the names written."""
    plot_data(out / "data.png", train_X, train_Y, test_X, test_Y)
    plot_costs(out / "costs.png", results)
    written = ["data.png", "costs.png"]
    for r in results:
        written.append(f"boundary_{r['slug']}.png")
        plot_boundary(out / written[-1], r, train_X, train_Y)
    return written


def main(argv=None, prog="python -m models.football"):
    """Run the study with command-line arguments ``argv`` (None: sys.argv[1:]); returns 0, its
    exit status, when it succeeds. Bad arguments or data, data whose first cost overflows or on
    which a model's training diverges included, raise ``SystemExit(2)`` (argparse's ``parser.error``)."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="football.npz or data.mat, a folder holding one, or 'synthetic' "
                                       f"(default: ${data.DATA_ENV}, else synthetic)")
    parser.add_argument("--out", default="out", help="output directory (default: out/)")
    parser.add_argument("--iterations", type=iteration_count, default=PUBLISHED_ITERATIONS,
                        help=f"gradient-descent iterations per model (default {PUBLISHED_ITERATIONS})")
    args = parser.parse_args(argv)
    try:
        (train_X, train_Y, test_X, test_Y), source = resolve_data(args.data)
    except (OSError, ValueError, ImportError) as error:  # (ImportError: no scipy for a .mat file)
        parser.error(str(error))
    out = output_folder(parser, args.out, (*OUTPUT_FILES, INCOMPLETE))
    real = fingerprint((train_X, train_Y, test_X, test_Y)) == REAL_DATA_SHA256
    print(f"data: {source} ({train_X.shape[1]} train / {test_X.shape[1]} test points)"
          f"{' - the real set' if real else ''}")

    try:
        results = run_models(train_X, train_Y, test_X, test_Y, args.iterations)
    except (InitialCostError, TrainingDivergedError) as error:  # the data's scale: a data error like the others
        parser.error(f"data {source}: {error}")
    table = results_table(results, published=real)
    note = ""
    if real and args.iterations != PUBLISHED_ITERATIONS:
        note = f"\n(the published values are for {PUBLISHED_ITERATIONS:,} iterations; this run did {args.iterations:,})"
    print("\n" + table + note)
    print("seconds per model: " + ", ".join(f"{r['name']} {r['seconds']:.1f}" for r in results))
    with staged_outputs(out, OUTPUT_FILES, "football") as staging:
        (staging / "results.md").write_text(f"data: {source}, {args.iterations} iterations\n\n{table}{note}\n")
        (staging / "results.json").write_text(json.dumps(results_json(results), indent=2) + "\n")
        # Only what this run wrote: the folder may hold the user's own files.
        written = ["results.md", "results.json", *write_plots(staging, results, train_X, train_Y, test_X, test_Y),
                   *write_graph(staging, results[-1], train_X, train_Y)]
    print(f"\nwrote {', '.join(sorted(written))} to {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
