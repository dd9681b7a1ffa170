package messaging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/parley-mediation/parley/objstore"
)

// A node's journal is a chain of create-only objects
// journal/<incarnation>/<seq>, one per group commit, each holding the
// batches of every room that node owns that were waiting at that moment.
// A batch is acknowledged once its journal entry is durable; compaction
// later copies it into its room's segments and deletes the entry.
//
// Because entries are create-only at consecutive sequence numbers, the
// journal is also its own fence: another node that finds this node gone
// writes a tombstone at the next number. Any later write of the node's
// fails, so nothing it acknowledges can be missing from what the fencing
// node then recovers.

// journalEntry is one object of a node's journal.
type journalEntry struct {
	Node    string   `json:"node"`
	Seq     int64    `json:"seq"`
	Batches []*Batch `json:"batches,omitempty"`
	// FencedBy marks a tombstone: written by another node to end this
	// journal for good.
	FencedBy string `json:"fenced_by,omitempty"`
}

const journalRoot = "journal/"

func journalPrefix(node string) string { return journalRoot + node + "/" }

func journalKey(node string, seq int64) string {
	return fmt.Sprintf("%s%020d", journalPrefix(node), seq)
}

// journalWrite is a journalEntry as written: its batches already encoded
// (each batch is encoded once, for the journal and the broadcast alike).
type journalWrite struct {
	Node     string            `json:"node"`
	Seq      int64             `json:"seq"`
	Batches  []json.RawMessage `json:"batches,omitempty"`
	FencedBy string            `json:"fenced_by,omitempty"`
}

// encode is e's JSON, the batches copied as they are: json.Marshal would
// re-validate and compact every batch's bytes, which at a node's full rate
// cost a tenth of its CPU.
func (e *journalWrite) encode() []byte {
	return e.appendTo(make([]byte, 0, e.sizeHint()))
}

// sizeHint is about the length of e's JSON.
func (e *journalWrite) sizeHint() int {
	n := 96 + len(e.Node) + len(e.FencedBy)
	for _, b := range e.Batches {
		n += len(b) + 1
	}
	return n
}

// appendTo appends e's JSON to out.
func (e *journalWrite) appendTo(out []byte) []byte {
	node, _ := json.Marshal(e.Node)
	out = append(append(append(out, `{"node":`...), node...), `,"seq":`...)
	out = strconv.AppendInt(out, e.Seq, 10)
	if len(e.Batches) > 0 {
		out = append(out, `,"batches":[`...)
		for i, b := range e.Batches {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, b...)
		}
		out = append(out, ']')
	}
	if e.FencedBy != "" {
		by, _ := json.Marshal(e.FencedBy)
		out = append(append(out, `,"fenced_by":`...), by...)
	}
	return append(out, '}')
}

// putJournal writes e create-only and returns the stored version's id
// ("" in a local journal).
func (l *Log) putJournal(ctx context.Context, e *journalWrite) (string, error) {
	if l.local != nil && e.FencedBy == "" {
		if nl := l.local.get(e.Node); nl != nil {
			return "", nl.append(e)
		}
	}
	data := e.encode()
	info, err := l.store.Put(ctx, journalKey(e.Node, e.Seq), bytes.NewReader(data), int64(len(data)),
		objstore.PutOptions{IfNoneMatch: true, ContentType: "application/json"})
	return info.VersionID, err
}

// readJournal reads one entry; errNoBatch when it is gone (compacted).
func (l *Log) readJournal(ctx context.Context, node string, seq int64) (*journalEntry, error) {
	data, err := l.readObject(ctx, journalKey(node, seq))
	if err != nil {
		return nil, err
	}
	return decodeJournal(node, seq, data)
}

// decodeJournal parses entry seq of node's journal and checks it.
func decodeJournal(node string, seq int64, data []byte) (*journalEntry, error) {
	var e journalEntry
	if err := jsonv2.Unmarshal(data, &e, strictJSON); err != nil {
		return nil, fmt.Errorf("journal %s/%d: %w", node, seq, err)
	}
	if e.Node != node || e.Seq != seq {
		return nil, fmt.Errorf("journal %s/%d: names another place (%s/%d)", node, seq, e.Node, e.Seq)
	}
	for _, b := range e.Batches {
		if b == nil {
			return nil, fmt.Errorf("journal %s/%d: empty batch", node, seq)
		}
		if err := b.check(); err != nil {
			return nil, fmt.Errorf("journal %s/%d: %w", node, seq, err)
		}
	}
	return &e, nil
}

// journalSeqs lists the sequence numbers present in node's journal, in order.
func (l *Log) journalSeqs(ctx context.Context, node string) ([]int64, error) {
	var out []int64
	err := l.store.List(ctx, journalPrefix(node), func(info objstore.Info) error {
		if n, err := strconv.ParseInt(info.Key[strings.LastIndexByte(info.Key, '/')+1:], 10, 64); err == nil {
			out = append(out, n)
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}

// journalListing is one listing of every journal: the incarnations that
// have a journal in the store, in order, with the sequence numbers each
// holds (in order), and those with files in the local journal (no
// numbers, unless it also has objects).
type journalListing struct {
	nodes []string
	seqs  map[string][]int64
}

// listJournals lists every journal in the store (one listing of
// journal/) and the local journal's incarnations.
func (l *Log) listJournals(ctx context.Context) (journalListing, error) {
	out := journalListing{seqs: map[string][]int64{}}
	err := l.store.List(ctx, journalRoot, func(info objstore.Info) error {
		rest := info.Key[len(journalRoot):]
		node, num, ok := strings.Cut(rest, "/")
		if !ok {
			return nil
		}
		if len(out.nodes) == 0 || out.nodes[len(out.nodes)-1] != node {
			out.nodes = append(out.nodes, node)
		}
		if n, err := strconv.ParseInt(num, 10, 64); err == nil {
			out.seqs[node] = append(out.seqs[node], n)
		}
		return nil
	})
	for _, seqs := range out.seqs {
		slices.Sort(seqs)
	}
	if err == nil && l.local != nil {
		var local []string
		local, err = l.local.nodes()
		for _, n := range local {
			if !slices.Contains(out.nodes, n) {
				out.nodes = append(out.nodes, n)
			}
		}
	}
	return out, err
}

// journalEntries reads node's whole journal, in order, leaving out
// tombstones; truncate (only once node is fenced) cuts a torn record off
// the end of a local journal.
func (l *Log) journalEntries(ctx context.Context, node string, truncate bool) ([]*journalEntry, error) {
	if l.local != nil && l.local.has(node) {
		return l.local.entries(node, truncate)
	}
	seqs, err := l.journalSeqs(ctx, node)
	if err != nil {
		return nil, err
	}
	var out []*journalEntry
	for _, seq := range seqs {
		e, err := l.readJournal(ctx, node, seq)
		if errors.Is(err, errNoBatch) {
			continue // compacted and deleted by its node
		}
		if err != nil {
			return nil, err
		}
		if e.FencedBy != "" {
			continue // entries may follow a tombstone that landed on a number compaction had freed
		}
		out = append(out, e)
	}
	return out, nil
}

// deleteJournal permanently deletes the given entries of node (every
// stored version), leaving any tombstone in place.
func (l *Log) deleteJournal(ctx context.Context, node string, seqs []int64) error {
	if l.local != nil && l.local.has(node) {
		return l.local.remove(node)
	}
	want := map[string]bool{}
	for _, s := range seqs {
		want[journalKey(node, s)] = true
	}
	var versions []objstore.Info
	err := l.store.VersionsUnder(ctx, journalPrefix(node), func(v objstore.Version) error {
		if want[v.Key] {
			versions = append(versions, v.Info)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return errors.Join(l.store.DeleteVersions(ctx, versions)...)
}

// A claim says which incarnation owns a room: rooms/<room>/owner/<gen>,
// create-only, so one node wins each generation. A node takes the next
// generation only after fencing and recovering the previous owner.
type claim struct {
	Node string `json:"node"`
	Gen  int64  `json:"gen"`
}

func claimPrefix(room string) string { return "rooms/" + room + "/owner/" }

func claimKey(room string, gen int64) string {
	return fmt.Sprintf("%s%010d", claimPrefix(room), gen)
}

// currentClaim returns the room's latest claim; ok is false when the room
// has never been owned.
func (l *Log) currentClaim(ctx context.Context, room string) (c claim, ok bool, err error) {
	last := int64(0)
	err = l.store.List(ctx, claimPrefix(room), func(info objstore.Info) error {
		if n, err := strconv.ParseInt(info.Key[strings.LastIndexByte(info.Key, '/')+1:], 10, 64); err == nil && n > last {
			last = n
		}
		return nil
	})
	if err != nil || last == 0 {
		return claim{}, false, err
	}
	data, err := l.readObject(ctx, claimKey(room, last))
	if err != nil {
		return claim{}, false, err
	}
	if err := json.Unmarshal(data, &c); err != nil || c.Gen != last || c.Node == "" {
		return claim{}, false, fmt.Errorf("room %s: unreadable claim %d", room, last)
	}
	return c, true, nil
}

// putClaim writes c create-only; ErrPrecondition when another node took
// that generation first.
func (l *Log) putClaim(ctx context.Context, room string, c claim) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return l.putInRoom(ctx, room, claimKey(room, c.Gen), data)
}
