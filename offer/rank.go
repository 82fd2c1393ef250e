package offer

import "slices"

// score ranks slot i for task p under the strategy; higher is better. The
// fill is the task's dominant share of the slot's remaining scalars.
func (m *matcher) score(p *prepared, i int) float64 {
	free := m.free[i*m.nnames : (i+1)*m.nnames]
	var fill float64
	for _, d := range p.demands {
		fill = max(fill, float64(d.amount)/float64(free[d.column]))
	}
	if m.cfg.strategy == Spread {
		return -fill
	}
	return fill
}

// placeTask runs the pipeline for one task: scan the offers from the
// strategy's starting point, reject the infeasible ones with a counted
// reason, score the feasible ones until the limit, and place the task on the
// best (the earliest on ties). A task no offer accepts is reported pending
// with its rejection counts.
func (m *matcher) placeTask(t *Task, p *prepared, res *Result) {
	// Identical tasks fail identically until something is placed.
	if m.failVersion == m.version && len(m.failed) > 0 {
		if f, ok := m.failed[classKey(t)]; ok && f.version == m.version {
			res.Pending = append(res.Pending, Pending{TaskID: t.ID, AppID: t.AppID, Rejections: slices.Clone(f.rejections)})
			return
		}
	}
	n := len(m.slots)
	if p.invalid >= 0 {
		m.reasons.count(p.invalid, n)
		m.fail(t, p, res)
		return
	}
	start := 0
	if m.cfg.strategy == Spread {
		start = m.cursor
	}
	best, bestScore, feasible := -1, 0.0, 0
	for k := 0; k < n && feasible < m.cfg.limit; k++ {
		i := start + k
		if i >= n {
			i -= n
		}
		if r := m.reject(t, p, i); r >= 0 {
			m.reasons.count(r, 1)
			continue
		}
		feasible++
		if s := m.score(p, i); best < 0 || s > bestScore {
			best, bestScore = i, s
		}
	}
	if best < 0 {
		m.fail(t, p, res)
		return
	}
	m.reasons.reset()
	m.place(t, p, best, res)
	m.cursor = best + 1
	if m.cursor == n {
		m.cursor = 0
	}
}

func (m *matcher) fail(t *Task, p *prepared, res *Result) {
	rej := m.reasons.take()
	if m.failVersion != m.version {
		clear(m.failed)
		m.failVersion = m.version
	}
	m.failed[classKey(t)] = failure{version: m.version, rejections: rej}
	res.Pending = append(res.Pending, Pending{TaskID: t.ID, AppID: t.AppID, Rejections: rej})
}
