"""Draw the small SQuAD v2 sample that ships inside the package (squad_nb/sample/).

    python tools/make_sample.py [--shared ../shared/data/squad_v2]

Keeps whole paragraphs (every question of a kept paragraph), taking every k-th paragraph of
every article so all titles appear, until the question budget is met. Deterministic."""
import argparse, json
from pathlib import Path

def draw(src, n_questions):
    "Every k-th paragraph of every article of `src`, with all its questions, up to about `n_questions`."
    d = json.loads(Path(src).read_text(encoding='utf-8'))
    total = sum(len(p['qas']) for a in d['data'] for p in a['paragraphs'])
    k = max(1, round(total / n_questions))
    out = []
    for a in d['data']:
        paras = [p for i, p in enumerate(a['paragraphs']) if i % k == 0]
        if paras: out.append(dict(title=a['title'], paragraphs=paras))
    return dict(version=d.get('version', 'v2.0'), data=out)

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--shared', default='../shared/data/squad_v2')
    ap.add_argument('--out', default='squad_nb/sample')
    a = ap.parse_args()
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    for name, n in [('train', 800), ('valid', 200)]:
        s = draw(Path(a.shared)/f'{name}.json', n)
        (out/f'{name}.json').write_text(json.dumps(s, ensure_ascii=False, indent=None), encoding='utf-8')
        nq = sum(len(p['qas']) for x in s['data'] for p in x['paragraphs'])
        nimp = sum(q.get('is_impossible', False) for x in s['data'] for p in x['paragraphs'] for q in p['qas'])
        print(f'{name}: {len(s["data"])} articles, {nq} questions ({nimp} unanswerable)')

if __name__ == '__main__': main()
