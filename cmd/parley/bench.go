package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/server"
)

func init() {
	register("bench fanout", "bench fanout [--rooms 100] [--members 6] [--payload 256] [--rate 15000] [--duration 15s] [--warmup 3s] [--idle 2000] [--idle-hold 0s] [--nodes 1] [--stages] [storage flags as for serve; --redis-url for the Redis broker]", benchFanout)
}

// benchFanout measures real-time delivery end to end: it starts --nodes
// `parley serve` processes on the given storage (a fresh embedded data
// directory by default), creates --rooms cases with --members people each
// in the joint room, connects every member over WebSocket (spread over the
// nodes) and has every member publish at an equal share of --rate
// messages per second. Every delivery to every member is counted; latency is
// publish→deliver (the send time travels in the payload). Publishing stops
// after --duration, every acknowledged message must then have reached every
// member of its room: the loss count must be 0. Then --idle further
// connections subscribe and stay idle, in two halves, and the nodes'
// memory growth per idle connection (RSS, and the runtime's heap in use
// plus goroutine stacks) is reported, each node read after a forced
// collection once its goroutine count has held still (see idleMemory).
func benchFanout(ctx context.Context, args []string) error {
	fs := newFlags("bench fanout")
	cfg := nodeFlags(fs)
	rooms := fs.Int("rooms", 100, "rooms (each the joint room of its own case)")
	members := fs.Int("members", 6, "members per room (a mediator and parties)")
	payload := fs.Int("payload", 256, "payload bytes per message")
	rate := fs.Int("rate", 15000, "messages published per second, in total (each is delivered to every member)")
	duration := fs.Duration("duration", 15*time.Second, "measured time")
	warmup := fs.Duration("warmup", 3*time.Second, "time before measuring")
	idle := fs.Int("idle", 2000, "idle subscribed connections for the memory figure (0: skip)")
	idleHold := fs.Duration("idle-hold", 0, "keep the idle connections open this long after the memory figure (for profiles through --debug-addr)")
	nodes := fs.Int("nodes", 1, "parley serve processes (more than 1 needs --s3-endpoint and --redis-url)")
	debugAddr := fs.String("debug-addr", "", "serve the first node's pprof profiles on this loopback address")
	genProfile := fs.String("generator-profile", "", "write the load generator's CPU profile of the measured window to this file")
	stages := fs.Bool("stages", false, "trace where the first node's time goes per stage (publish → delivery) in the measured window, and the load generator's own lag")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *payload < 16 || *payload > api.MaxBody || *rooms < 1 || *members < 2 || *rate < 1 || *nodes < 1 {
		return usagef("need --payload 16..%d, --rooms ≥ 1, --members ≥ 2, --rate ≥ 1, --nodes ≥ 1", api.MaxBody)
	}
	if *nodes > 1 && (cfg.S3.Endpoint == "" || cfg.RedisURL == "") {
		return usagef("--nodes > 1 needs --s3-endpoint and --redis-url (a data directory belongs to one process)")
	}
	if cfg.S3.Endpoint == "" && !flagGiven(fs, "data") {
		dir, err := os.MkdirTemp("", "parley-bench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.DataDir = dir
	}
	if *stages && *debugAddr == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		*debugAddr = ln.Addr().String()
		ln.Close()
	}
	b := &fanoutBench{cfg: cfg, payload: *payload, debugAddr: *debugAddr, stages: *stages, memory: *idle > 0, genProfile: *genProfile}
	// The mediator first: `admin user create` writes to the data directory,
	// which it may not do beside a serving node (embedded mode).
	if err := b.createMediator(ctx); err != nil {
		return err
	}
	if err := b.startNodes(ctx, *nodes, args); err != nil {
		return err
	}
	defer b.stopNodes()
	fmt.Fprintf(os.Stderr, "bench: %d node(s) up; creating %d rooms × %d members…\n", *nodes, *rooms, *members)
	if err := b.setup(ctx, *rooms, *members); err != nil {
		return err
	}
	if err := b.connect(ctx); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: %d connections subscribed; publishing %d msg/s for %s after %s of warm-up…\n", len(b.members), *rate, *duration, *warmup)
	res := b.run(ctx, *rate, *warmup, *duration)
	broker := "in-process"
	if cfg.RedisURL != "" {
		broker = "Redis"
	}
	store := "local directory"
	if cfg.S3.Endpoint != "" {
		store = "S3 " + cfg.S3.Endpoint
	}
	fmt.Printf("fanout: %d rooms × %d members, %d-byte payloads, %d node(s), broker %s, store %s\n", *rooms, *members, *payload, *nodes, broker, store)
	fmt.Printf("  offered        %d msg/s published → %d deliveries/s offered\n", *rate, *rate**members)
	fmt.Printf("  delivered      %.0f msg/s (over %s)\n", res.deliveredPerSec, *duration)
	fmt.Printf("  latency        p50 %s  p99 %s  p99.9 %s  (publish → deliver, %d samples)\n", res.p50, res.p99, res.p999, res.samples)
	fmt.Printf("  acknowledged   %d   lost %d\n", res.acked, res.lost)
	fmt.Printf("  cpu            server %.2f cores, load generator %.2f cores (measured window; load average %s)\n", res.serverCPU, res.benchCPU, loadAverage())
	if res.serverWrites >= 0 && res.deliveredPerSec > 0 {
		fmt.Printf("  syscalls       server %.0f reads/s, %.0f writes/s (%.2f and %.2f per delivery)\n",
			res.serverReads, res.serverWrites, res.serverReads/res.deliveredPerSec, res.serverWrites/res.deliveredPerSec)
	}
	if b.stages {
		fmt.Printf("  generator lag  tick → stamped p50 %s p99 %s; stamped → written p50 %s p99 %s; frame read → decoded p50 %s p99 %s\n",
			res.tickLag[0], res.tickLag[1], res.writeLag[0], res.writeLag[1], res.readLag[0], res.readLag[1])
		fmt.Printf("  split          publish → server's time stamp p50 %s p99 %s; stamp → delivered p50 %s p99 %s (ms clock: ±1 ms)\n",
			res.toCommit[0], res.toCommit[1], res.fromCommit[0], res.fromCommit[1])
		fmt.Printf("  worst windows  %s\n", res.worst)
		fmt.Printf("  p99 by second  %s\n", res.bySecond)
		fmt.Printf("  stages of the first node in the measured window (histogram buckets: ±19 %%):\n%s", b.stageTable)
	}
	if *idle > 0 {
		fmt.Fprintf(os.Stderr, "bench: waiting %s for the nodes to free the run's rooms, then %d idle connections…\n", idleSettle, *idle)
		m, err := b.idleMemory(ctx, *idle, *idleHold)
		if err != nil {
			return err
		}
		fmt.Print(m)
	}
	if res.lost > 0 {
		return fmt.Errorf("%d acknowledged deliveries lost", res.lost)
	}
	return nil
}

func flagGiven(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

type fanoutBench struct {
	cfg *server.Config
	// mediator is the email of the mediator account createMediator made.
	mediator string
	payload  int
	// debugAddr, if set, is passed to the first node as --debug-addr.
	debugAddr string
	// stages: trace the first node's stages (through debugAddr) and the
	// load generator's lag in the measured window.
	stages bool
	// stageTable is the first node's stage table of the measured window.
	stageTable string
	// genProfile, if set, is where the load generator's CPU profile of
	// the measured window goes.
	genProfile string
	// memory: give every node a debug listener (debugAddrs) for the idle
	// memory figure.
	memory     bool
	debugAddrs []string
	procs      []*exec.Cmd
	urls       []string
	caseIDs    []string
	tokens     [][]string // per room, member tokens
	members    []*benchConn
}

// startNodes runs `parley serve` children with the same storage flags.
func (b *fanoutBench) startNodes(ctx context.Context, n int, args []string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	storage := storageArgs(b.cfg)
	// The nodes start one after another (createMediator made the master
	// key in embedded mode).
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		addr := ln.Addr().String()
		ln.Close()
		serveArgs := benchServeArgs(addr, storage)
		debugAddr := ""
		if i == 0 {
			debugAddr = b.debugAddr
		}
		if debugAddr == "" && b.memory {
			if debugAddr, err = freeLoopbackAddr(); err != nil {
				return err
			}
		}
		if debugAddr != "" {
			serveArgs = append(serveArgs, "--debug-addr", debugAddr)
		}
		b.debugAddrs = append(b.debugAddrs, debugAddr)
		cmd := exec.CommandContext(ctx, self, serveArgs...)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return err
		}
		b.procs = append(b.procs, cmd)
		url := "http://" + addr
		if err := waitReady(ctx, url); err != nil {
			return fmt.Errorf("node %d: %w", i, err)
		}
		b.urls = append(b.urls, url)
	}
	return nil
}

// benchServeArgs is a bench node's `parley serve` arguments, listening on
// addr with the storage flags storage.
func benchServeArgs(addr string, storage []string) []string {
	// One mediator account (one sign-in) is in every room, and the idle
	// connections share the rooms' members' sign-ins: far more sockets per
	// sign-in and per account than a person opens, so the bench's nodes
	// lift the per-session and per-account limits. The bench reads no
	// metrics, and every node would otherwise try serve's one default
	// metrics address (only the first could bind it, and none if anything
	// else on the machine holds it).
	return append([]string{"serve", "--addr", addr, "--log-level", "error", "--metrics-addr", "off",
		"--ws-per-session", "1000000", "--ws-per-account", "1000000"}, storage...)
}

func storageArgs(c *server.Config) []string {
	var a []string
	add := func(flag, v string) {
		if v != "" {
			a = append(a, flag, v)
		}
	}
	if c.S3.Endpoint == "" {
		add("--data", c.DataDir)
	}
	add("--s3-endpoint", c.S3.Endpoint)
	add("--s3-bucket", c.S3.Bucket)
	add("--s3-access-key", c.S3.AccessKey)
	add("--s3-secret-key", c.S3.SecretKey)
	add("--s3-region", c.S3.Region)
	add("--redis-url", c.RedisURL)
	add("--master-key-file", c.MasterKeyFile)
	if c.S3.Insecure {
		a = append(a, "--s3-insecure")
	}
	return a
}

func waitReady(ctx context.Context, url string) error {
	for range 300 {
		if res, err := http.Get(url + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("not ready within 15 s")
}

func (b *fanoutBench) stopNodes() {
	for _, p := range b.procs {
		p.Process.Signal(os.Interrupt)
	}
	for _, p := range b.procs {
		p.Wait()
	}
}

// benchPassword is the bench mediator's password.
const benchPassword = "bench password, not secret"

// createMediator makes the bench's mediator with `admin user create`
// (directly in the store), before any node serves: in embedded mode that
// command refuses to write beside a serving node.
func (b *fanoutBench) createMediator(ctx context.Context) error {
	b.mediator = fmt.Sprintf("bench-%d@bench.parley.test", time.Now().UnixNano())
	self, _ := os.Executable()
	cmd := exec.CommandContext(ctx, self, append([]string{"admin", "user", "create", "--email", b.mediator, "--name", "Bench Mediator", "--role", "mediator", "--password-file", "-"}, storageArgs(b.cfg)...)...)
	cmd.Stdin = strings.NewReader(benchPassword + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("create mediator: %v: %s", err, out)
	}
	return nil
}

// setup signs in as the mediator createMediator made, then over the API
// makes a case per room and an invite per other member.
func (b *fanoutBench) setup(ctx context.Context, rooms, members int) error {
	med := client.New(b.urls[0], "")
	if _, err := med.Login(ctx, b.mediator, benchPassword); err != nil {
		return err
	}
	b.tokens = make([][]string, rooms)
	var wg sync.WaitGroup
	errs := make(chan error, rooms)
	sem := make(chan struct{}, 8)
	for r := range rooms {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			k, err := med.CreateCase(ctx, fmt.Sprintf("Bench room %d", r), "bench", "", []string{"A", "B"})
			if err != nil {
				errs <- err
				return
			}
			toks := []string{med.Token}
			for m := 1; m < members; m++ {
				inv, err := med.Invite(ctx, k.ID, "party", []string{"A", "B"}[m%2], fmt.Sprintf("Member %d", m), "", time.Hour)
				if err != nil {
					errs <- err
					return
				}
				pc := client.New(b.urls[(r+m)%len(b.urls)], "")
				if _, err := pc.Join(ctx, inv.Link); err != nil {
					errs <- err
					return
				}
				toks = append(toks, pc.Token)
			}
			b.tokens[r] = toks
			b.setCaseID(r, k.ID)
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

var caseIDsMu sync.Mutex

func (b *fanoutBench) setCaseID(r int, id string) {
	caseIDsMu.Lock()
	defer caseIDsMu.Unlock()
	for len(b.caseIDs) <= r {
		b.caseIDs = append(b.caseIDs, "")
	}
	b.caseIDs[r] = id
}

// benchConn is one member's raw WebSocket: the bench reads frames itself
// (no client library) so the load generator stays light.
type benchConn struct {
	ws    *websocket.Conn
	room  int
	wmu   sync.Mutex
	acked atomic.Int64
	got   atomic.Int64
	lat   []int64 // microseconds, measured window only
	ready chan struct{}
	// With --stages, the load generator's own lag (microseconds, measured
	// window only): a tick's due time → its send time stamped, the stamp
	// → the write returned (publisher), and a frame read → decoded
	// (reader).
	tickLag, writeLag, readLag []int64
	// toCommit and fromCommit split each delivery's latency at the
	// server's time stamp of the message (wall clock, in ms).
	toCommit, fromCommit []int64
	// sent is each measured delivery's send time (unix ns), beside lat
	// (with --stages).
	sent   []int64
	stages bool
}

func dial(ctx context.Context, url, caseID, token string) (*websocket.Conn, error) {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	// A read buffer that holds a burst of frames (the server writes what
	// waits for a connection in one write): one read for the burst.
	ws, _, err := (&websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 32 << 10}).DialContext(ctx,
		strings.Replace(url, "http", "ws", 1)+"/api/v1/cases/"+caseID+"/ws", h)
	return ws, err
}

func (b *fanoutBench) connect(ctx context.Context) error {
	for r, toks := range b.tokens {
		for m, tok := range toks {
			ws, err := dial(ctx, b.urls[(r+m)%len(b.urls)], b.caseIDs[r], tok)
			if err != nil {
				return fmt.Errorf("connect: %w", err)
			}
			c := &benchConn{ws: ws, room: r, ready: make(chan struct{}), stages: b.stages}
			b.members = append(b.members, c)
			c.write(api.ClientFrame{Type: "sub", Room: "joint"})
		}
	}
	return nil
}

func (c *benchConn) write(f api.ClientFrame) error {
	data, _ := json.Marshal(f)
	return c.writeRaw(data)
}

func (c *benchConn) writeRaw(data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(websocket.TextMessage, data)
}

// appendPub appends publisher i's n-th "pub" frame to the joint room, as
// json.Marshal of the api.ClientFrame would write it (TestAppendPub),
// without reflection: the load generator shares the machine with the
// server it measures.
func appendPub(dst []byte, i, n int, body []byte) []byte {
	dst = append(dst, `{"t":"pub","room":"joint","id":"`...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, `","body":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, body)
	return append(dst, `"}`...)
}

type fanoutResult struct {
	deliveredPerSec float64
	p50, p99, p999  time.Duration
	samples         int
	acked, lost     int64
	// serverCPU and benchCPU are the CPU time the nodes and this process
	// (the load generator) spent in the measured window, in cores.
	serverCPU, benchCPU float64
	// serverReads and serverWrites are the nodes' read and write system
	// calls a second in the measured window (sockets, files and pipes
	// alike; -1 when /proc does not say).
	serverReads, serverWrites float64
	// p50 and p99 of the load generator's lags (with --stages).
	tickLag, writeLag, readLag [2]time.Duration
	toCommit, fromCommit       [2]time.Duration
	// worst: the measured window's 100 ms slices (by send time) with the
	// highest p99, and how many slices had a p99 over 20 ms.
	worst string
	// bySecond: the p99 of each second of the measured window, in order.
	bySecond string
}

func (b *fanoutBench) run(ctx context.Context, rate int, warmup, duration time.Duration) fanoutResult {
	var measuring atomic.Bool
	var measured atomic.Int64
	var readers sync.WaitGroup
	for _, c := range b.members {
		readers.Go(func() { c.read(&measuring, &measured) })
	}
	for _, c := range b.members {
		select {
		case <-c.ready:
		case <-time.After(30 * time.Second):
		}
	}
	perConn := float64(rate) / float64(len(b.members))
	interval := time.Duration(float64(time.Second) / perConn)
	stop := make(chan struct{})
	var pubs sync.WaitGroup
	for i, c := range b.members {
		// Each publisher starts at its own phase of the interval, so that
		// the load is an even --rate rather than every member publishing
		// at the same instant (a burst of one message per member every
		// interval, whose queueing the latency would measure).
		phase := interval * time.Duration(i) / time.Duration(len(b.members))
		pubs.Go(func() { c.publish(i, b.payload, phase, interval, stop, &measuring) })
	}
	time.Sleep(warmup)
	if b.stages {
		b.nodeStages("on")
	}
	server0, bench0 := b.nodesCPU(), selfCPU()
	reads0, writes0 := b.nodesSyscalls()
	measuring.Store(true)
	start := time.Now()
	stopProfile := b.startGeneratorProfile()
	time.Sleep(duration)
	stopProfile()
	measuring.Store(false)
	elapsed := time.Since(start)
	server1, bench1 := b.nodesCPU(), selfCPU()
	reads1, writes1 := b.nodesSyscalls()
	if b.stages {
		b.stageTable = b.nodeStages("off")
	}
	serverCPU := (server1 - server0).Seconds() / elapsed.Seconds()
	benchCPU := (bench1 - bench0).Seconds() / elapsed.Seconds()
	serverReads, serverWrites := -1.0, -1.0
	if reads0 >= 0 && reads1 >= 0 {
		serverReads = float64(reads1-reads0) / elapsed.Seconds()
		serverWrites = float64(writes1-writes0) / elapsed.Seconds()
	}
	close(stop)
	pubs.Wait()
	// Drain: every acknowledged message must reach every member of its room.
	var acked int64
	perRoom := map[int]int64{}
	for _, c := range b.members {
		perRoom[c.room] += c.acked.Load()
		acked += c.acked.Load()
	}
	var lost int64
	for range 100 {
		lost = 0
		for _, c := range b.members {
			if d := perRoom[c.room] - c.got.Load(); d > 0 {
				lost += d
			}
		}
		if lost == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, c := range b.members {
		c.ws.Close()
	}
	readers.Wait()
	var all, tick, write, read, toCommit, fromCommit []int64
	for _, c := range b.members {
		all = append(all, c.lat...)
		tick = append(tick, c.tickLag...)
		write = append(write, c.writeLag...)
		read = append(read, c.readLag...)
		toCommit = append(toCommit, c.toCommit...)
		fromCommit = append(fromCommit, c.fromCommit...)
	}
	p50, p99, p999 := quantiles(all)
	res := fanoutResult{deliveredPerSec: float64(measured.Load()) / elapsed.Seconds(), p50: p50, p99: p99, p999: p999,
		samples: len(all), acked: acked, lost: lost, serverCPU: serverCPU, benchCPU: benchCPU,
		serverReads: serverReads, serverWrites: serverWrites}
	if b.stages {
		res.worst = worstWindows(b.members, start)
		res.bySecond = p99BySecond(b.members, start, duration)
	}
	for _, l := range []struct {
		to      *[2]time.Duration
		samples []int64
	}{{&res.tickLag, tick}, {&res.writeLag, write}, {&res.readLag, read}, {&res.toCommit, toCommit}, {&res.fromCommit, fromCommit}} {
		p50, p99, _ := quantiles(l.samples)
		*l.to = [2]time.Duration{p50, p99}
	}
	return res
}

// worstWindows splits the members' measured deliveries into 100 ms
// slices by send time (from start) and describes the slices whose p99 is
// highest: a steady queue shows as many slices alike, a stall as a few.
func worstWindows(members []*benchConn, start time.Time) string {
	const width = 100 * time.Millisecond
	slices_ := map[int64][]int64{}
	for _, c := range members {
		for i, at := range c.sent {
			if at < start.UnixNano() {
				continue // sent in the warm-up
			}
			w := (at - start.UnixNano()) / int64(width)
			slices_[w] = append(slices_[w], c.lat[i])
		}
	}
	type win struct {
		at  int64
		p99 time.Duration
	}
	var ws []win
	over := 0
	for at, lat := range slices_ {
		_, p99, _ := quantiles(lat)
		ws = append(ws, win{at, p99})
		if p99 > 20*time.Millisecond {
			over++
		}
	}
	slices.SortFunc(ws, func(a, b win) int { return cmp.Compare(b.p99, a.p99) })
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d of %d slices of 100 ms with p99 > 20 ms; worst:", over, len(ws))
	for _, w := range ws[:min(8, len(ws))] {
		fmt.Fprintf(&sb, " @%.1fs %s", float64(w.at)*width.Seconds(), w.p99.Round(time.Millisecond))
	}
	return sb.String()
}

// p99BySecond lists the p99 of the members' measured deliveries for each
// whole second of the window (by send time), in order: a stall or a periodic
// burst shows where worstWindows's slices only rank.
func p99BySecond(members []*benchConn, start time.Time, duration time.Duration) string {
	var secs [][]int64
	for _, c := range members {
		for i, at := range c.sent {
			if at < start.UnixNano() || at >= start.Add(duration).UnixNano() {
				continue // sent in the warm-up, or after the window (a part of a second)
			}
			s := int((at - start.UnixNano()) / int64(time.Second))
			for len(secs) <= s {
				secs = append(secs, nil)
			}
			secs[s] = append(secs[s], c.lat[i])
		}
	}
	parts := make([]string, 0, len(secs))
	for _, lat := range secs {
		if len(lat) == 0 {
			parts = append(parts, "-")
			continue
		}
		_, p99, _ := quantiles(lat)
		parts = append(parts, p99.Round(time.Millisecond).String())
	}
	return strings.Join(parts, " ")
}

// startGeneratorProfile starts this process's CPU profile when
// --generator-profile asks for one, and returns what stops it.
func (b *fanoutBench) startGeneratorProfile() (stop func()) {
	if b.genProfile == "" {
		return func() {}
	}
	f, err := os.Create(b.genProfile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: generator profile: %v\n", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "bench: generator profile: %v\n", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// quantiles sorts samples (microseconds) and returns their p50, p99 and
// p99.9.
func quantiles(samples []int64) (p50, p99, p999 time.Duration) {
	slices.Sort(samples)
	q := func(p float64) time.Duration {
		if len(samples) == 0 {
			return 0
		}
		return time.Duration(samples[min(len(samples)-1, int(p*float64(len(samples))))]) * time.Microsecond
	}
	return q(0.50), q(0.99), q(0.999)
}

// nodeStages switches the first node's stage tracing (trace "on" or
// "off") and returns its stage table.
func (b *fanoutBench) nodeStages(trace string) string {
	res, err := http.Get("http://" + b.debugAddr + "/debug/parley/stages?trace=" + trace)
	if err != nil {
		return err.Error() + "\n"
	}
	defer res.Body.Close()
	var sb strings.Builder
	bufio.NewReader(res.Body).WriteTo(&sb)
	return sb.String()
}

func (c *benchConn) publish(i, size int, phase, interval time.Duration, stop chan struct{}, measuring *atomic.Bool) {
	body := make([]byte, size)
	var frame []byte
	select {
	case <-stop:
		return
	case <-time.After(phase):
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for n := 0; ; n++ {
		var due time.Time
		select {
		case <-stop:
			return
		case due = <-t.C:
		}
		now := time.Now()
		binary.BigEndian.PutUint64(body, uint64(now.UnixNano()))
		frame = appendPub(frame[:0], i, n, body)
		if c.writeRaw(frame) != nil {
			return
		}
		if c.stages && measuring.Load() {
			c.tickLag = append(c.tickLag, now.Sub(due).Microseconds())
			c.writeLag = append(c.writeLag, time.Since(now).Microseconds())
		}
	}
}

func (c *benchConn) read(measuring *atomic.Bool, measured *atomic.Int64) {
	subscribed := false
	var buf bytes.Buffer // reused: a frame's bytes are not kept once scanned
	for {
		_, r, err := c.ws.NextReader()
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		data := buf.Bytes()
		read := time.Now()
		if err != nil {
			if !subscribed {
				close(c.ready)
			}
			return
		}
		f, ok := scanBenchFrame(data)
		if !ok {
			continue
		}
		switch f.Type {
		case "subscribed":
			if !subscribed {
				subscribed = true
				close(c.ready)
			}
		case "ack":
			c.acked.Add(1)
		case "msgs":
			c.got.Add(int64(len(f.Msgs)))
			if measuring.Load() {
				now := time.Now().UnixNano()
				for _, m := range f.Msgs {
					if len(m.Body) >= 8 {
						c.lat = append(c.lat, (now-int64(binary.BigEndian.Uint64(m.Body)))/1000)
						measured.Add(1)
						if c.stages {
							c.sent = append(c.sent, int64(binary.BigEndian.Uint64(m.Body)))
						}
					}
				}
				if c.stages {
					c.readLag = append(c.readLag, (now-read.UnixNano())/1000)
					for _, m := range f.Msgs {
						if len(m.Body) >= 8 {
							// The server stamps a message's time (ms) as
							// it assigns its position, before the journal.
							at := m.At * int64(time.Millisecond)
							c.toCommit = append(c.toCommit, (at-int64(binary.BigEndian.Uint64(m.Body)))/1000)
							c.fromCommit = append(c.fromCommit, (now-at)/1000)
						}
					}
				}
			}
		}
	}
}

// idleMemory opens n idle subscribed connections (spread over the nodes
// and rooms) in two halves, and reads every node's memory before, between
// and after them (/debug/parley/memory on each node's debug listener:
// after a forced collection that also returns every free page to the
// system, once the node's goroutine count stopped changing). Only the
// nodes are measured: they are processes of their own, and this process
// (the load generator, holding the client ends) is not counted.
//
// The growth over all n includes what the first connections of a room
// make again (the rooms' hubs, freed while the nodes settled); the second
// half's growth is the marginal cost of one more connection to a room
// already open.
func (b *fanoutBench) idleMemory(ctx context.Context, n int, hold time.Duration) (idleFigures, error) {
	// First let the nodes finish with the run: its messages wait in each
	// node's journal up to the compaction interval (10 s), and its rooms'
	// hubs and committers until they are idle (see idleSettle).
	select {
	case <-ctx.Done():
		return idleFigures{}, ctx.Err()
	case <-time.After(idleSettle):
	}
	before, err := b.settledMemory(ctx)
	if err != nil {
		return idleFigures{}, err
	}
	var conns []*websocket.Conn
	// Each idle connection's client end keeps reading (and discarding)
	// once subscribed: reading is what answers the server's pings, and a
	// connection that does not answer them is closed after pongWait (45 s),
	// in the middle of the measurement. Closing the connections ends these
	// readers.
	var readers sync.WaitGroup
	defer func() {
		for _, c := range conns {
			c.Close()
		}
		readers.Wait()
	}()
	open := func(from, to int) error {
		for i := from; i < to; i++ {
			r := i % len(b.tokens)
			tok := b.tokens[r][i%len(b.tokens[r])]
			ws, err := dial(ctx, b.urls[i%len(b.urls)], b.caseIDs[r], tok)
			if err != nil {
				return err
			}
			data, _ := json.Marshal(api.ClientFrame{Type: "sub", Room: "joint"})
			ws.WriteMessage(websocket.TextMessage, data)
			conns = append(conns, ws)
		}
		// Every subscription must be answered before the nodes are read.
		for i, c := range conns[from:to] {
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			for {
				_, data, err := c.ReadMessage()
				if err != nil {
					return fmt.Errorf("idle connection %d: no subscription answer: %w", from+i, err)
				}
				if strings.Contains(string(data), `"subscribed"`) {
					break
				}
			}
			c.SetReadDeadline(time.Time{})
			readers.Go(func() {
				for {
					if _, _, err := c.ReadMessage(); err != nil {
						return
					}
				}
			})
		}
		return nil
	}
	half := n / 2
	if err := open(0, half); err != nil {
		return idleFigures{}, err
	}
	mid, err := b.settledMemory(ctx)
	if err != nil {
		return idleFigures{}, err
	}
	if err := open(half, n); err != nil {
		return idleFigures{}, err
	}
	after, err := b.settledMemory(ctx)
	if err != nil {
		return idleFigures{}, err
	}
	f := idleFigures{n: n, nodes: len(b.urls), before: before,
		all: growth(before, after, n), marginal: growth(mid, after, n-half), half: n - half}
	if hold > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d idle connections stay open for %s\n", n, hold)
		select {
		case <-ctx.Done():
		case <-time.After(hold):
		}
	}
	return f, f.check()
}

// idleSettle is how long the nodes are left alone before the idle
// baseline: longer than a node keeps an idle room's hub and committer
// (30 s), so that those the run left are not freed during the
// measurement, which would hide the connections' memory.
const idleSettle = 35 * time.Second

// settledMemory reads every node's memory (summed) once the nodes'
// goroutine count has not changed for settleQuiet (readings a second
// apart; at most a minute): goroutines that end after a while without
// work (a socket's writer) are gone by then.
func (b *fanoutBench) settledMemory(ctx context.Context) (nodeMemory, error) {
	prev, err := b.nodesMemory(ctx)
	if err != nil {
		return prev, err
	}
	since := time.Now()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return prev, ctx.Err()
		case <-time.After(time.Second):
		}
		cur, err := b.nodesMemory(ctx)
		if err != nil {
			return cur, err
		}
		if cur.Goroutines != prev.Goroutines {
			since = time.Now()
		} else if time.Since(since) >= settleQuiet {
			return cur, nil
		}
		prev = cur
	}
	return prev, errors.New("idle memory: the nodes' goroutine count kept changing for a minute; no figure")
}

// settleQuiet is how long the nodes' goroutine count must stay the same
// before a reading: longer than a socket's writer lingers without work
// (2 s).
const settleQuiet = 5 * time.Second

// nodesMemory sums every node's /debug/parley/memory.
func (b *fanoutBench) nodesMemory(ctx context.Context) (nodeMemory, error) {
	var sum nodeMemory
	for i, addr := range b.debugAddrs {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/parley/memory", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return sum, fmt.Errorf("node %d's memory: %w", i, err)
		}
		var m nodeMemory
		err = json.NewDecoder(res.Body).Decode(&m)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			return sum, fmt.Errorf("node %d's memory: status %d, %v", i, res.StatusCode, err)
		}
		if m.RSS <= 0 || m.RSSAnon <= 0 {
			return sum, fmt.Errorf("node %d's memory: no RSS reading (needs Linux's /proc)", i)
		}
		sum.RSS += m.RSS
		sum.RSSAnon += m.RSSAnon
		sum.HeapInUse += m.HeapInUse
		sum.HeapLive += m.HeapLive
		sum.Stacks += m.Stacks
		sum.Goroutines += m.Goroutines
	}
	return sum, nil
}

// perConn is the nodes' growth between two readings per connection added
// (bytes; goroutines).
type perConn struct {
	rss, anon, heap, live, stacks, goroutines float64
}

func growth(from, to nodeMemory, n int) perConn {
	d := func(a, b int64) float64 { return float64(b-a) / float64(n) }
	u := func(a, b uint64) float64 { return float64(int64(b)-int64(a)) / float64(n) }
	return perConn{rss: d(from.RSS, to.RSS), anon: d(from.RSSAnon, to.RSSAnon), heap: u(from.HeapInUse, to.HeapInUse),
		live: u(from.HeapLive, to.HeapLive), stacks: u(from.Stacks, to.Stacks), goroutines: u(from.Goroutines, to.Goroutines)}
}

// maxIdleConn is more than an idle connection can hold: a growth above it
// means something else ran on the nodes during the measurement.
const maxIdleConn = 1 << 20

// idleFigures is the idle memory measurement.
type idleFigures struct {
	n, half, nodes int
	before         nodeMemory
	all, marginal  perConn
}

// check refuses figures that cannot be a connection's cost: memory that
// fell while connections were added (the runtime or something else freed
// more than they took), or grew by more than a connection can hold.
func (f idleFigures) check() error {
	for _, p := range []struct {
		what string
		c    perConn
	}{{fmt.Sprintf("all %d", f.n), f.all}, {fmt.Sprintf("second %d", f.half), f.marginal}} {
		c := p.c
		for _, v := range []struct {
			name string
			x    float64
		}{{"RSS", c.rss}, {"anonymous RSS", c.anon}, {"heap in use", c.heap}, {"heap+stacks", c.heap + c.stacks}} {
			if v.x <= 0 || v.x > maxIdleConn {
				return fmt.Errorf("idle memory: nonsensical reading over the %s connections: %s grew %.0f bytes per connection (%s); no figure",
					p.what, v.name, v.x, f.raw(c))
			}
		}
		if c.goroutines < 0 {
			return fmt.Errorf("idle memory: the nodes lost goroutines while connections were added (%s); no figure", f.raw(c))
		}
	}
	return nil
}

func (f idleFigures) raw(c perConn) string {
	return fmt.Sprintf("RSS %+.0f, anonymous %+.0f, heap %+.0f, stacks %+.0f bytes, %+.2f goroutines per connection", c.rss, c.anon, c.heap, c.stacks, c.goroutines)
}

func (f idleFigures) String() string {
	const kib = 1024
	line := func(what string, c perConn) string {
		return fmt.Sprintf("                 %-12s RSS %.1f KiB (anonymous %.1f), heap in use %.1f KiB (live objects %.1f) + stacks %.1f KiB = %.1f KiB, %.2f goroutines\n",
			what, c.rss/kib, c.anon/kib, c.heap/kib, c.live/kib, c.stacks/kib, (c.heap+c.stacks)/kib, c.goroutines)
	}
	return fmt.Sprintf("  idle memory    per idle subscribed connection, %d connections on %d node(s), the nodes only, each read after a forced GC that returned free pages\n", f.n, f.nodes) +
		fmt.Sprintf("                 (before: RSS %.1f MiB, heap in use %.1f MiB, stacks %.1f MiB, %d goroutines; load average %s)\n",
			float64(f.before.RSS)/kib/kib, float64(f.before.HeapInUse)/kib/kib, float64(f.before.Stacks)/kib/kib, f.before.Goroutines, loadAverage()) +
		line(fmt.Sprintf("all %d:", f.n), f.all) +
		line(fmt.Sprintf("second %d:", f.half), f.marginal)
}

// freeLoopbackAddr picks a free loopback port.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// benchFrame is the part of api.ServerFrame the load generator reads:
// the type, and each delivered message's time stamp and the first 8 bytes
// of its body (the send time).
type benchFrame struct {
	Type api.FrameType
	Msgs []benchMsg
}

type benchMsg struct {
	At   int64
	Body []byte // the body's first 8 bytes (fewer if it is shorter)
}

// scanBenchFrame reads a server frame's type and, in a "msgs" frame, each
// message's "at" and the start of its "body", without decoding the rest:
// a full json.Unmarshal of every delivery (base64 bodies, ids, names) was
// half of the load generator's CPU, which shares the machine with the
// server it measures. It relies on encoding/json's field order for
// api.ServerFrame and api.Message (type first; a message's "at" before
// its "body", the last field), and falls back to json.Unmarshal on any
// frame it does not recognise (TestScanBenchFrame checks the two agree).
// Inside a JSON string a quote is always escaped, so the keys it looks
// for cannot match inside an id or a name.
func scanBenchFrame(data []byte) (benchFrame, bool) {
	const head = `{"t":"`
	rest, ok := bytes.CutPrefix(data, []byte(head))
	typ, rest, ok2 := bytes.Cut(rest, []byte{'"'})
	if !ok || !ok2 {
		return decodeBenchFrame(data)
	}
	f := benchFrame{Type: api.FrameType(typ)}
	if f.Type != api.FrameMsgs {
		return f, true
	}
	for {
		i := bytes.Index(rest, []byte(`,"at":`))
		if i < 0 {
			break
		}
		rest = rest[i+len(`,"at":`):]
		end := bytes.IndexAny(rest, ",}")
		at, err := strconv.ParseInt(string(rest[:max(end, 0)]), 10, 64)
		j := bytes.Index(rest, []byte(`"body":`))
		if end < 0 || err != nil || j < 0 {
			return decodeBenchFrame(data)
		}
		rest = rest[j+len(`"body":`):]
		if v, ok := bytes.CutPrefix(rest, []byte("null")); ok {
			f.Msgs = append(f.Msgs, benchMsg{At: at})
			rest = v
			continue
		}
		if len(rest) == 0 || rest[0] != '"' {
			return decodeBenchFrame(data)
		}
		rest = rest[1:]
		k := bytes.IndexByte(rest, '"')
		if k < 0 {
			return decodeBenchFrame(data)
		}
		enc := rest[:min(k, 12)] // 12 base64 characters hold 9 bytes, no padding
		body := make([]byte, 9)
		n, err := base64.StdEncoding.Decode(body, enc)
		if err != nil {
			return decodeBenchFrame(data)
		}
		f.Msgs = append(f.Msgs, benchMsg{At: at, Body: body[:min(n, 8)]})
		rest = rest[k+1:]
	}
	return f, true
}

// decodeBenchFrame is scanBenchFrame by json.Unmarshal.
func decodeBenchFrame(data []byte) (benchFrame, bool) {
	var full struct {
		Type api.FrameType `json:"t"`
		Msgs []struct {
			At   int64  `json:"at"`
			Body []byte `json:"body"`
		} `json:"ms"`
	}
	if json.Unmarshal(data, &full) != nil {
		return benchFrame{}, false
	}
	f := benchFrame{Type: full.Type}
	for _, m := range full.Msgs {
		f.Msgs = append(f.Msgs, benchMsg{At: m.At, Body: m.Body[:min(len(m.Body), 8)]})
	}
	return f, true
}

// clockTick is the unit of /proc/<pid>/stat's CPU times (USER_HZ, 100 on
// Linux).
const clockTick = 10 * time.Millisecond

// nodesCPU sums the CPU time (user and system) the nodes have used.
func (b *fanoutBench) nodesCPU() time.Duration {
	var total time.Duration
	for _, p := range b.procs {
		data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.Process.Pid), "stat"))
		if err != nil {
			continue
		}
		// The command name (field 2) may hold spaces; fields after it
		// start at state (field 3). utime and stime are fields 14 and 15.
		rest := string(data[strings.LastIndexByte(string(data), ')')+1:])
		f := strings.Fields(rest)
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(u+s) * clockTick
	}
	return total
}

// nodesSyscalls sums the read and write system calls the nodes have made
// (syscr and syscw of /proc/<pid>/io); -1, -1 when a node's count cannot
// be read.
func (b *fanoutBench) nodesSyscalls() (reads, writes int64) {
	for _, p := range b.procs {
		data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.Process.Pid), "io"))
		if err != nil {
			return -1, -1
		}
		r, w, ok := procIOCalls(string(data))
		if !ok {
			return -1, -1
		}
		reads += r
		writes += w
	}
	return reads, writes
}

// procIOCalls reads the read and write system call counts (syscr,
// syscw) out of a /proc/<pid>/io file; ok is false unless both are there.
func procIOCalls(data string) (reads, writes int64, ok bool) {
	reads, writes = -1, -1
	for line := range strings.Lines(data) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ": ")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "syscr":
			reads = n
		case "syscw":
			writes = n
		}
	}
	return reads, writes, reads >= 0 && writes >= 0
}

// selfCPU is the CPU time (user and system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAverage is the machine's 1-minute load average, for the record.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(data))[0]
}
