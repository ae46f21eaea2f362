package exporter

import "golang.org/x/sync/errgroup"

// move is one tag to move. Moves of one group marked serial run one after
// the other, in order; other moves of a wave run concurrently.
type move struct {
	ref    string
	serial bool
	group  string
	do     func() error
}

// wave is a set of moves that may run together.
type wave []move

// run runs the moves, at most jobs at a time (a serial group counts as one,
// and stops at its first failure), and returns those that succeeded, in the
// wave's order, and the first error.
func (wv wave) run(jobs int) ([]string, error) {
	ok := make([]bool, len(wv))
	errs := make([]error, len(wv))
	var chains [][]int // indexes into wv, each chain run in order
	serial := map[string]int{}
	for i, m := range wv {
		if !m.serial {
			chains = append(chains, []int{i})
			continue
		}
		c, seen := serial[m.group]
		if !seen {
			c = len(chains)
			serial[m.group] = c
			chains = append(chains, nil)
		}
		chains[c] = append(chains[c], i)
	}
	var g errgroup.Group
	g.SetLimit(jobs)
	for _, chain := range chains {
		g.Go(func() error {
			for _, i := range chain {
				errs[i] = wv[i].do()
				ok[i] = errs[i] == nil
				if !ok[i] {
					return nil
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	var done []string
	for i, m := range wv {
		if ok[i] {
			done = append(done, m.ref)
		}
	}
	for _, err := range errs {
		if err != nil {
			return done, err
		}
	}
	return done, nil
}
