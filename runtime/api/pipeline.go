package api

import (
	"hash"
	"io"
	"sync/atomic"
)

// pipelineDepth is the number of copyBufSize buffers one transfer may hold.
const pipelineDepth = 4

type chunk struct {
	b *[]byte
	n int
}

// fill reads from src until buf is full or src fails; err is io.EOF at a
// clean end.
func fill(src io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := src.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// hashedCopy copies src to dst, hashing every byte into h in the same pass.
// Reading+hashing and writing run in two goroutines so the hash overlaps the
// storage write; memory stays at pipelineDepth buffers whatever the size.
// rerr is a read (client) error, werr a write (storage) error.
func hashedCopy(dst io.Writer, src io.Reader, h hash.Hash) (n int64, rerr, werr error) {
	free := make(chan *[]byte, pipelineDepth)
	full := make(chan chunk, pipelineDepth)
	for range pipelineDepth {
		free <- getBuf()
	}
	var failed atomic.Bool
	done := make(chan error, 1)
	go func() {
		var err error
		for c := range full {
			if err == nil {
				if _, err = dst.Write((*c.b)[:c.n]); err != nil {
					failed.Store(true)
				}
			}
			free <- c.b
		}
		done <- err
	}()
	for !failed.Load() {
		b := <-free
		k, err := fill(src, *b)
		if k > 0 {
			h.Write((*b)[:k])
			n += int64(k)
			full <- chunk{b, k}
		} else {
			free <- b
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			rerr = err
			break
		}
	}
	close(full)
	werr = <-done
	for range pipelineDepth {
		putBuf(<-free)
	}
	return n, rerr, werr
}

// hashedChunks reads src in a goroutine, hashing as it goes, and delivers
// chunks in order on the returned channel; after the channel closes, the
// result channel yields the total, the digest and any read error. Calling
// release returns a chunk's buffer; stop abandons the read early.
type chunkReader struct {
	chunks  chan chunk
	free    chan *[]byte
	stop    chan struct{}
	result  chan readResult
	stopped atomic.Bool
}

type readResult struct {
	n   int64
	sum []byte
	err error
}

func startChunkReader(src io.Reader, h hash.Hash, limit int64) *chunkReader {
	cr := &chunkReader{
		chunks: make(chan chunk, pipelineDepth-2),
		free:   make(chan *[]byte, pipelineDepth),
		stop:   make(chan struct{}),
		result: make(chan readResult, 1),
	}
	for range pipelineDepth {
		cr.free <- getBuf()
	}
	go func() {
		defer close(cr.chunks)
		var n int64
		for {
			var b *[]byte
			select {
			case b = <-cr.free:
			case <-cr.stop:
				cr.result <- readResult{n: n, err: io.ErrClosedPipe}
				return
			}
			k, err := fill(src, *b)
			if k > 0 {
				h.Write((*b)[:k])
				n += int64(k)
				select {
				case cr.chunks <- chunk{b, k}:
				case <-cr.stop:
					cr.free <- b
					cr.result <- readResult{n: n, err: io.ErrClosedPipe}
					return
				}
			} else {
				cr.free <- b
			}
			if err == io.EOF || n > limit {
				cr.result <- readResult{n: n, sum: h.Sum(nil)}
				return
			}
			if err != nil {
				cr.result <- readResult{n: n, err: err}
				return
			}
		}
	}()
	return cr
}

func (cr *chunkReader) release(c chunk) { cr.free <- c.b }

// close stops the reader (if still running), waits for it and returns all
// buffers to the pool.
func (cr *chunkReader) close() {
	if cr.stopped.CompareAndSwap(false, true) {
		close(cr.stop)
	}
	for c := range cr.chunks {
		cr.free <- c.b
	}
	for range pipelineDepth {
		putBuf(<-cr.free)
	}
}
