package embedded

import (
	"bytes"
	"encoding/json"
	"sync"

	"github.com/acme/module-registry/runtime/storage"
)

// maxMemoEntries bounds a decodeMemo; past it, it starts again empty.
const maxMemoEntries = 4096

// decodeMemo remembers the decoded form of stored JSON values by key, as the bytes
// they were decoded from: a value is decoded again only when its bytes differ, so
// the memo needs no invalidation and can never answer with a stale record.
type decodeMemo struct {
	mu sync.RWMutex
	m  map[string]memoEntry
}

type memoEntry struct {
	raw []byte
	pkg storage.Package
}

// pkg decodes v, the package record stored at k.
func (d *decodeMemo) pkg(k, v []byte) (storage.Package, error) {
	d.mu.RLock()
	e, ok := d.m[string(k)]
	d.mu.RUnlock()
	if ok && bytes.Equal(e.raw, v) {
		return e.pkg, nil
	}
	var r pkgRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return storage.Package{}, err
	}
	r.Package.BlobKey = r.BlobKey
	d.mu.Lock()
	if d.m == nil || len(d.m) >= maxMemoEntries {
		d.m = make(map[string]memoEntry)
	}
	// v belongs to the read transaction: keep a copy.
	d.m[string(k)] = memoEntry{raw: bytes.Clone(v), pkg: r.Package}
	d.mu.Unlock()
	return r.Package, nil
}
