// Package workers runs one function over n items on a bounded number of
// goroutines. It owns nothing but that: no retries, no error policy (the
// function records its own outcome per item), no unbounded spawning.
package workers

import "sync"

// Run calls fn(i) for every i in [0, n), at most parallel at a time, and
// returns when every call has returned. parallel below 1 means 1.
func Run(n, parallel int, fn func(i int)) {
	if parallel < 1 {
		parallel = 1
	}
	parallel = min(parallel, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range parallel {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
