// Package workers runs one function over n items on a bounded number of
// goroutines. It owns nothing but that: no retries, no error policy (the
// function records its own outcome per item), no unbounded spawning.
package workers

import "sync"

// Run calls fn(i) for every i in [0, n), at most parallel at a time, and
// returns when every call has returned. parallel below 1 means 1. A
// panic in fn is raised again in Run's caller once every call has
// returned, as if fn had run there (an HTTP handler's recover still
// catches it; a panic on a goroutine of its own would end the process).
// Items not yet started when a call panics are not called.
func Run(n, parallel int, fn func(i int)) {
	if parallel < 1 {
		parallel = 1
	}
	parallel = min(parallel, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var panicked bool
	var value any
	next := make(chan int)
	call := func(i int) {
		defer func() {
			if v := recover(); v != nil {
				mu.Lock()
				if !panicked {
					panicked, value = true, v
				}
				mu.Unlock()
			}
		}()
		mu.Lock()
		stop := panicked
		mu.Unlock()
		if !stop {
			fn(i)
		}
	}
	for range parallel {
		wg.Go(func() {
			for i := range next {
				call(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if panicked {
		panic(value)
	}
}
