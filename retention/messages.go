package retention

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/objstore"
)

// A case's message history is one record: every stored batch of every one
// of its rooms. Message payloads are end-to-end encrypted on the members'
// devices, so the server holds no key to destroy: disposal deletes every
// stored version of every batch, and what a backup keeps is ciphertext
// whose keys only the devices ever had.

// messageHistory returns the stored batches of a case's rooms and their
// total size.
func (s *Service) messageHistory(ctx context.Context, caseID string) (keys []string, size int64, err error) {
	err = s.store.List(ctx, caucus.HistoryPrefix(caseID), func(info objstore.Info) error {
		keys = append(keys, info.Key)
		size += info.Size
		return nil
	})
	return keys, size, err
}

// eachStoredBatch calls fn for every stored version of every batch of a
// case's message history, newest version first when newestFirst.
func (s *Service) eachStoredBatch(ctx context.Context, caseID string, newestFirst bool, fn func(key string, v objstore.Version) error) error {
	keys, _, err := s.messageHistory(ctx, caseID)
	if err != nil {
		return err
	}
	for _, key := range keys {
		versions, err := s.store.Versions(ctx, key)
		if errors.Is(err, objstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if newestFirst {
			slices.Reverse(versions)
		}
		for _, v := range versions {
			if err := fn(key, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// holdMessages sets or clears the storage hold on every stored version of
// a case's message history. Setting, it returns how many batches it
// listed were deleted before their storage hold was set (a batch is
// deleted only by a disposal: deleteMessages), each counted once.
func (s *Service) holdMessages(ctx context.Context, caseID string, on bool) (overtaken int, err error) {
	keys, _, err := s.messageHistory(ctx, caseID)
	if err != nil {
		return 0, err
	}
	for _, key := range keys {
		versions, err := s.store.Versions(ctx, key)
		if errors.Is(err, objstore.ErrNotFound) {
			if on {
				overtaken++
			}
			continue
		}
		if err != nil {
			return overtaken, err
		}
		gone := false
		for _, v := range versions {
			if v.DeleteMarker {
				continue
			}
			err := s.store.SetLegalHold(ctx, key, v.VersionID, on)
			if errors.Is(err, objstore.ErrNotFound) {
				gone = true
				continue
			}
			if err != nil {
				return overtaken, fmt.Errorf("legal hold on %s: %w", key, err)
			}
		}
		if gone && on {
			overtaken++
		}
	}
	return overtaken, nil
}

// errCaseHeldNow: deleteMessages found the case held when it read its
// hold again, right before deleting.
var errCaseHeldNow = fmt.Errorf("under legal hold: %w", objstore.ErrHeld)

// deleteMessages deletes every stored version of every batch of a case's
// message history, unless the case is held now. A held case or batch
// stops it with objstore.ErrHeld.
func (s *Service) deleteMessages(ctx context.Context, caseID string) error {
	// First end the history, so that messages still in a node's journal
	// are never written back after the deletion.
	if err := messaging.EndHistory(ctx, s.store, caseID); err != nil {
		return fmt.Errorf("end message history: %w", err)
	}
	// The case hold read again, right before the batches go: a case
	// hold written from now on finds every batch deleted below still
	// there in its first pass over the history (PlaceHold; held: the
	// delete is refused) or deleted since it listed it (overtaken).
	if held, err := s.vault.CaseHeld(ctx, caseID); err != nil {
		return err
	} else if held {
		return fmt.Errorf("case %s: %w", caseID, errCaseHeldNow)
	}
	return s.eachStoredBatch(ctx, caseID, true, func(key string, v objstore.Version) error {
		if err := s.store.Delete(ctx, key, v.VersionID); err != nil {
			return fmt.Errorf("delete %s: %w", key, err)
		}
		return nil
	})
}
