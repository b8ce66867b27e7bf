"""Sequence match: the fraction of programs whose computed terms start with the expected terms.

    import evaluate
    metric = evaluate.load("metrics/sequence_match")
    metric.compute(predictions=[[0, 1, 1, 2, 3]], references=[[0, 1, 1, 2, 3, 5]], num_terms=5)
    # {'sequence_match': 1.0}

`predictions[i]`: the terms program i computed (empty where it failed); `references[i]`:
the target's listed terms. A prediction matches when it reproduces the first `num_terms`
(default: all) reference terms. Terms beyond 64 bits can be given as decimal strings.
The arithmetic is `codegen.metrics.terms_match`, the code `codegen.evaluate` scores with.
"""
import datasets
import evaluate

from codegen.metrics import terms_match

_DESCRIPTION = __doc__
_KWARGS = """
Args:
    predictions: list of lists of integers (or decimal strings): terms computed by each program.
    references: list of lists of integers (or decimal strings): the expected terms.
    num_terms: how many leading reference terms must be reproduced (default: all of them).
Returns:
    sequence_match: fraction of predictions that match.
"""


def _features(kind: str) -> datasets.Features:
    return datasets.Features({"predictions": datasets.Sequence(datasets.Value(kind)),
                              "references": datasets.Sequence(datasets.Value(kind))})


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class SequenceMatch(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(description=_DESCRIPTION, citation="", inputs_description=_KWARGS,
                                   features=[_features("string"), _features("int64")])

    def _compute(self, predictions, references, num_terms=None):
        if not references:
            return {"sequence_match": 0.0}
        matched = [terms_match([int(v) for v in p], [int(v) for v in r], num_terms)
                   for p, r in zip(predictions, references)]
        return {"sequence_match": sum(matched) / len(matched)}
