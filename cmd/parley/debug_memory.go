package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
)

// nodeMemory is /debug/parley/memory's answer: a node's memory after a
// forced collection that also returned every free page to the system, so
// that two readings differ by what the node holds, not by garbage or by
// pages the runtime had not yet given back. Bytes, except Goroutines.
type nodeMemory struct {
	// RSS is the process's resident set (VmRSS), RSSAnon its anonymous
	// part (RssAnon: heap, stacks, runtime structures, without the
	// binary's pages, which a new code path can page in).
	RSS     int64 `json:"rss"`
	RSSAnon int64 `json:"rss_anon"`
	// HeapInUse is the heap's spans in use (live objects and the unused
	// room in their spans); Stacks the goroutine stacks (heap-allocated
	// stack spans and stacks the OS allocated).
	HeapInUse  uint64 `json:"heap_inuse"`
	HeapLive   uint64 `json:"heap_objects"`
	Stacks     uint64 `json:"stacks"`
	Goroutines uint64 `json:"goroutines"`
}

// readNodeMemory collects garbage, returns free memory to the system and
// reads the process's memory figures.
func readNodeMemory() nodeMemory {
	// Two collections: the first frees what became garbage and lets
	// stacks shrink; FreeOSMemory collects again and returns every free
	// page to the system.
	runtime.GC()
	debug.FreeOSMemory()
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
		{Name: "/memory/classes/os-stacks:bytes"},
		{Name: "/sched/goroutines:goroutines"},
	}
	metrics.Read(samples)
	v := func(i int) uint64 {
		if samples[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return samples[i].Value.Uint64()
	}
	m := nodeMemory{HeapLive: v(0), HeapInUse: v(0) + v(1), Stacks: v(2) + v(3), Goroutines: v(4)}
	m.RSS, m.RSSAnon = procStatus("VmRSS:"), procStatus("RssAnon:")
	return m
}

// procStatus reads one kB field of /proc/self/status, in bytes (0 where
// there is no /proc).
func procStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			if fs := strings.Fields(rest); len(fs) > 0 {
				kb, _ := strconv.ParseInt(fs[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// serveNodeMemory answers /debug/parley/memory on the debug listener
// only (it forces collections: not something the users' listener offers).
func serveNodeMemory(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(readNodeMemory())
}
