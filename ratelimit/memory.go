package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Memory is the in-process Limiter of the embedded mode.
type Memory struct {
	mu      sync.Mutex
	windows map[string]*window
	now     func() time.Time
	sweeps  int
}

type window struct {
	count int
	ends  time.Time
}

// NewMemory returns an empty in-process limiter.
func NewMemory() *Memory {
	return &Memory{windows: map[string]*window{}, now: time.Now}
}

// Allow implements Limiter.
func (m *Memory) Allow(_ context.Context, key string, limit int, per time.Duration) (bool, time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweep(now)
	w := m.windows[key]
	if w == nil || !now.Before(w.ends) {
		w = &window{ends: now.Add(per)}
		m.windows[key] = w
	}
	w.count++
	if w.count > limit {
		return false, w.ends.Sub(now), nil
	}
	return true, 0, nil
}

// sweep drops expired windows every 1024 calls, so memory stays bounded by
// the keys seen within one window.
func (m *Memory) sweep(now time.Time) {
	m.sweeps++
	if m.sweeps%1024 != 0 {
		return
	}
	for k, w := range m.windows {
		if !now.Before(w.ends) {
			delete(m.windows, k)
		}
	}
}

// Undo implements Limiter.
func (m *Memory) Undo(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w := m.windows[key]; w != nil && m.now().Before(w.ends) && w.count > 0 {
		w.count--
	}
	return nil
}

// Count implements Limiter.
func (m *Memory) Count(_ context.Context, key string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w := m.windows[key]; w != nil && m.now().Before(w.ends) {
		return w.count, nil
	}
	return 0, nil
}

// Remember implements Limiter.
func (m *Memory) Remember(_ context.Context, key string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweep(now)
	m.windows[key] = &window{count: 1, ends: now.Add(ttl)}
	return nil
}
