"""A plain-loop implementation of squad_nb's post-processing rules: the oracle for tests and the bench.

Rules (the same as `squad_nb.postprocess`):
- in each window, keep the `n_best` largest start logits and the `n_best` largest end logits among
  the context tokens (offset not None, position < len(offset_mapping)); ties -> the lower position;
- a candidate is a (start, end) pair of those with start <= end and end - start + 1 <= max_answer_length,
  scored start_logit + end_logit, summed in the logits' float type (float32, or float64 when given float64);
- an example's candidates from all its windows are ordered by score (highest first), then window (feature
  order), then start, then end; the first is the best answer, the first `n_best` are the n-best list, whose
  probabilities are the softmax of their scores;
- the null score is the smallest CLS score (start_logit[cls] + end_logit[cls]) over the example's windows;
  null_score_diff = null score - best score (+inf when there is no candidate, whose score is -inf);
  the prediction is "" when null_score_diff > null_threshold, else the best text.

`null='max'` and `topk='all'` switch to the starting notebook's rules (largest CLS score; top-k over all
positions of the logits row, then non-context candidates dropped), to explain where answers differ."""
import math
import numpy as np

def rows(data):
    "A datasets.Dataset, dict of lists or list of dicts as a list of dicts."
    if hasattr(data, 'column_names') and hasattr(data, 'to_list'): return data.to_list()
    if hasattr(data, 'keys'):
        keys = list(data.keys())
        return [dict(zip(keys, vals)) for vals in zip(*[data[k] for k in keys])]
    return list(data)

def _logits(s, e):
    "A window's start and end logits as numpy arrays of the type scores are summed in: float32, or float64 if either is."
    s, e = np.asarray(s), np.asarray(e)
    dt = np.float64 if np.float64 in (s.dtype, e.dtype) else np.float32
    return s.astype(dt), e.astype(dt)

def reference_postprocess(examples, features, start_logits, end_logits, n_best=20, max_answer_length=30,
                          null_threshold=0.0, null='min', topk='context'):
    "id -> dict(text, score, start_char, end_char, null_score, null_score_diff, prediction, nbest) by plain loops."
    exs, feats = rows(examples), rows(features)
    windows_of = {}
    for i, f in enumerate(feats): windows_of.setdefault(f['example_id'], []).append(i)
    out = {}
    for ex in exs:
        cands, null_score = [], None
        for w in windows_of[ex['id']]:
            offs = feats[w]['offset_mapping']
            s, e = _logits(start_logits[w], end_logits[w])
            cls = feats[w].get('cls_index', 0)
            cls_score = float(s[cls] + e[cls])
            if null_score is None: null_score = cls_score
            elif null == 'min': null_score = min(null_score, cls_score)
            else: null_score = max(null_score, cls_score)
            if topk == 'context': positions = [i for i in range(len(offs)) if offs[i] is not None]
            else: positions = list(range(len(s)))
            starts = sorted(positions, key=lambda i: (-s[i], i))[:n_best]
            ends = sorted(positions, key=lambda i: (-e[i], i))[:n_best]
            for a in starts:
                for b in ends:
                    if a >= len(offs) or b >= len(offs) or offs[a] is None or offs[b] is None: continue
                    if b < a or b - a + 1 > max_answer_length: continue
                    cands.append((float(s[a] + e[b]), w, a, b, offs[a][0], offs[b][1]))
        cands.sort(key=lambda c: (-c[0], c[1], c[2], c[3]))
        nbest = [dict(text=ex['context'][c[4]:c[5]], start_char=c[4], end_char=c[5], score=c[0]) for c in cands[:n_best]]
        if nbest:
            mx = max(c['score'] for c in nbest)
            exps = [math.exp(c['score'] - mx) for c in nbest]
            for c, x in zip(nbest, exps): c['probability'] = x / sum(exps)
            best = nbest[0]
            text, score, sc, ec = best['text'], best['score'], best['start_char'], best['end_char']
            diff = null_score - score
        else: text, score, sc, ec, diff = '', -math.inf, -1, -1, math.inf
        out[ex['id']] = dict(text=text, score=score, start_char=sc, end_char=ec, null_score=null_score,
                             null_score_diff=diff, prediction='' if diff > null_threshold else text, nbest=nbest)
    return out
