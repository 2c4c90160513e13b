package client

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// ProgressFunc is told the bytes moved so far and the total (-1 when unknown).
// It is called from the goroutine doing the transfer, often: keep it cheap.
type ProgressFunc func(done, total int64)

// watchdog cancels a transfer when touch has not been called for stall.
type watchdog struct {
	stall time.Duration
	timer *time.Timer
	fired atomic.Bool
}

func (w *watchdog) touch() { w.timer.Reset(w.stall) }

// progressReader reports every read to touch.
type progressReader struct {
	r      io.Reader
	touch  func()
	closer io.Closer
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.touch()
	}
	return n, err
}

func (p *progressReader) Close() error {
	if p.closer != nil {
		return p.closer.Close()
	}
	return nil
}

// countingReader hashes (when h is set) and counts what passes, and reports
// progress.
type countingReader struct {
	r        io.Reader
	h        hash.Hash
	n        int64
	total    int64
	progress ProgressFunc
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if n > 0 {
		if c.h != nil {
			c.h.Write(b[:n])
		}
		c.n += int64(n)
		if c.progress != nil {
			c.progress(c.n, c.total)
		}
	}
	return n, err
}

func (c *countingReader) sum() string { return hex.EncodeToString(c.h.Sum(nil)) }

// Verifier is a download that checks itself: it reads the bytes while hashing them
// and, at their end, returns an *IntegrityError instead of io.EOF unless the size
// and SHA-256 are the expected ones. Nothing read from it counts as verified
// before Read returned io.EOF.
type Verifier struct {
	body io.ReadCloser
	c    countingReader
	what string
	// SHA256 is the digest the bytes must have (lowercase hex).
	SHA256 string
	// Size is the number of bytes expected, or -1 when unknown.
	Size    int64
	against string
	err     error
}

func newVerifier(body io.ReadCloser, what, sha string, size int64, against string, progress ProgressFunc) *Verifier {
	return &Verifier{body: body, c: countingReader{r: body, h: sha256.New(), total: size, progress: progress},
		what: what, SHA256: sha, Size: size, against: against}
}

// Read implements io.Reader.
func (v *Verifier) Read(b []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.c.Read(b)
	if v.Size >= 0 && v.c.n > v.Size {
		err = v.mismatch()
	} else if err == io.EOF {
		if (v.Size >= 0 && v.c.n != v.Size) || v.c.sum() != v.SHA256 {
			err = v.mismatch()
		}
	} else if err == io.ErrUnexpectedEOF {
		err = fmt.Errorf("%s: the transfer broke off after %d of %d bytes (the registry cuts a download whose stored bytes fail verification): %w",
			v.what, v.c.n, v.Size, err)
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

// copyBufSize is the chunk a Verifier reads in when copying: large reads keep the
// per-chunk costs (system calls, hash set-up) small next to hashing.
const copyBufSize = 256 << 10

// WriteTo copies the verified bytes to w in large chunks (io.Copy uses it); it ends
// with the error Read would give, an *IntegrityError on a mismatch.
func (v *Verifier) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, copyBufSize)
	var total int64
	for {
		n, err := v.Read(buf)
		if n > 0 {
			k, werr := w.Write(buf[:n])
			total += int64(k)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func (v *Verifier) mismatch() error {
	return &IntegrityError{What: v.what, Against: v.against, WantSHA256: v.SHA256, SHA256: v.c.sum(), WantSize: v.Size, Size: v.c.n}
}

// Close releases the connection.
func (v *Verifier) Close() error { return v.body.Close() }

// WriteFile writes what src yields to path through a temporary file in the same
// directory, fsynced and renamed into place only after src ended without error (for
// a Verifier: after the bytes were verified). On any failure nothing is left at path
// (an existing file there is untouched) and the temporary file is removed.
func WriteFile(path string, src io.Reader, perm os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" {
		return fmt.Errorf("destination %q names a directory, not a file", path)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("destination %q is a directory", path)
	}
	tmp, err := os.CreateTemp(dir, "."+base+".partial-*")
	if err != nil {
		return fmt.Errorf("creating the file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err = io.Copy(tmp, src); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// pullInto returns a function that writes an opened verified download to dest
// atomically and closes it (shaped to take Open's results directly).
func pullInto(dest string) func(*Verifier, error) (Pulled, error) {
	return func(v *Verifier, err error) (Pulled, error) {
		if err != nil {
			return Pulled{}, err
		}
		defer v.Close()
		if err := WriteFile(dest, v, 0o644); err != nil {
			return Pulled{}, err
		}
		return Pulled{Path: dest, SHA256: v.SHA256, Size: v.c.n}, nil
	}
}

// hashSeeker reads r to its end, hashing, and seeks back to where it started.
func hashSeeker(r io.ReadSeeker) (string, int64, error) {
	start, err := r.Seek(0, io.SeekCurrent)
	if err != nil {
		return "", 0, err
	}
	sum, n, err := Digest(r)
	if err != nil {
		return "", 0, err
	}
	if _, err := r.Seek(start, io.SeekStart); err != nil {
		return "", 0, err
	}
	return sum, n, nil
}

// Digest reads r to its end and returns its SHA-256 (lowercase hex) and length.
func Digest(r io.Reader) (string, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
