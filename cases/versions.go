package cases

import (
	"context"
	"errors"
	"slices"

	"github.com/parley-mediation/parley/objstore"
)

// Markers (fence markers, the audit sweep's) are deleted version by
// version, never hidden behind a delete marker: in a versioned bucket a
// hidden marker keeps every version it had, and a plain delete hides
// whatever version is newest, one written since it was read too.

// dropVersionsThrough permanently deletes the stored version of key whose
// ETag is seen and every older one (delete markers too), never a version
// written after it. It reports whether that version was still stored
// (false: deleted or replaced by another writer since, and nothing is
// deleted). The older versions go first, so that a failure part-way never
// leaves an older version newest.
func dropVersionsThrough(ctx context.Context, obj objstore.Store, key, seen string) (bool, error) {
	if seen == "" {
		return false, nil
	}
	vs, err := obj.Versions(ctx, key)
	if errors.Is(err, objstore.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	at := slices.IndexFunc(vs, func(v objstore.Version) bool { return !v.DeleteMarker && v.ETag == seen })
	if at < 0 {
		return false, nil
	}
	if older := vs[at+1:]; len(older) > 0 { // newest first: the older ones
		infos := make([]objstore.Info, len(older))
		for i, v := range older {
			infos[i] = v.Info
		}
		if err := errors.Join(obj.DeleteVersions(ctx, infos)...); err != nil {
			return true, err
		}
	}
	return true, errors.Join(obj.DeleteVersions(ctx, []objstore.Info{vs[at].Info})...)
}

// deleteEveryVersion permanently deletes every stored version of key
// (delete markers too).
func deleteEveryVersion(ctx context.Context, obj objstore.Store, key string) error {
	return objstore.DeleteEveryVersion(ctx, obj, key)
}
