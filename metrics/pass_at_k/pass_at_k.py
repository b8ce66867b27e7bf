"""pass@k: the unbiased estimator of Chen et al. (2021), "Evaluating Large Language Models
Trained on Code", averaged over items.

    import evaluate
    metric = evaluate.load("metrics/pass_at_k")
    metric.compute(num_samples=[10, 10], num_correct=[3, 0], k=[1, 5])
    # {'pass@1': 0.15, 'pass@5': 0.4583...}

For an item with n samples of which c are correct, pass@k = 1 - C(n-c, k) / C(n, k)
(computed as a stable product). k larger than an item's n is skipped. The arithmetic is
`codegen.metrics.pass_at_k`, the code `codegen.evaluate` reports with.
"""
import datasets
import evaluate

from codegen.metrics import mean_pass_at_k

_DESCRIPTION = __doc__
_KWARGS = """
Args:
    num_samples: list of integers, the samples n drawn for each item.
    num_correct: list of integers, how many of them were correct (c <= n).
    k: list of integers (default [1, 10, 100]); those above the smallest n are skipped.
Returns:
    pass@k for every k kept: the mean over items.
"""
_CITATION = """@article{chen2021codex, title={Evaluating Large Language Models Trained on Code},
author={Chen, Mark and others}, journal={arXiv preprint arXiv:2107.03374}, year={2021}}"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class PassAtK(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(description=_DESCRIPTION, citation=_CITATION, inputs_description=_KWARGS,
                                   features=datasets.Features({"num_samples": datasets.Value("int64"),
                                                               "num_correct": datasets.Value("int64")}))

    def _compute(self, num_samples, num_correct, k=(1, 10, 100)):
        values = mean_pass_at_k(zip(num_samples, num_correct), list(k))
        return {f"pass@{key}": value for key, value in values.items()}
