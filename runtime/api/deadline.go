package api

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// Deadlines on every body. The connection's read and write deadlines are set per
// request (http.ResponseController), not once per server, because one server takes
// both 200-byte logins and 5 GiB uploads:
//
//   - a request body that is not a package upload (JSON) must arrive within
//     BodyTimeout of the request's start, and a response that is not a package
//     download must be written within ResponseTimeout;
//   - a package upload or download may take as long as it needs while bytes flow: each
//     read or write may wait at most TransferIdleTimeout, and the transfer must keep
//     an average of TransferMinRate bytes per second over the time the server spent
//     waiting on the client (after a grace of TransferIdleTimeout). Time the server
//     spends on its own storage does not count against the client.
//
// A body read that misses its deadline ends the request with 408; a stalled download
// cuts the connection.

// Defaults of the body and transfer deadlines.
const (
	DefaultBodyTimeout         = 5 * time.Second
	DefaultResponseTimeout     = 30 * time.Second
	DefaultTransferIdleTimeout = 30 * time.Second
	// DefaultTransferMinRate is 16 KiB/s: a trickle of a few bytes a second is cut
	// after about TransferIdleTimeout, while a poor but working link is not.
	DefaultTransferMinRate int64 = 16 << 10
	// DefaultMaxJSONBytes caps a JSON request body.
	DefaultMaxJSONBytes int64 = 64 << 10
)

// errTimeout is wrapped by every failure of a client to send a body in time.
var errTimeout = errors.New("request body not received in time")

// timeoutError says which deadline a body read missed.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string { return e.msg }
func (e *timeoutError) Unwrap() error { return errTimeout }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// conn sets the deadlines of one request's connection.
type conn struct {
	rc *http.ResponseController
}

// readBy and writeBy set the connection's read and write deadlines; the zero time
// removes one. A writer without deadlines (a test recorder) is left alone.
func (c conn) readBy(t time.Time) {
	if c.rc != nil {
		_ = c.rc.SetReadDeadline(t)
	}
}

func (c conn) writeBy(t time.Time) {
	if c.rc != nil {
		_ = c.rc.SetWriteDeadline(t)
	}
}

// pacer holds one direction of a transfer to the idle timeout and the minimum rate.
type pacer struct {
	idle    time.Duration
	minRate float64 // bytes per second; 0: none
	set     func(time.Time)
	bytes   int64
	waited  time.Duration // spent in the client's reads or writes
	last    time.Time     // deadline last set
}

// deadline is the deadline of the next read or write starting at now: at most idle
// away, and no later than the transfer's earned time (idle + bytes/minRate) allows.
func (p *pacer) deadline(now time.Time) time.Time {
	budget := p.idle
	if p.minRate > 0 { // in float seconds: bytes/minRate may exceed a Duration
		earned := p.idle.Seconds() + float64(p.bytes)/p.minRate - p.waited.Seconds()
		if earned < p.idle.Seconds() {
			budget = time.Duration(max(earned, 0) * float64(time.Second))
		}
	}
	return now.Add(budget)
}

// do runs one read or write of the client under the pacer's deadline.
func (p *pacer) do(op func() (int, error)) (int, error) {
	start := time.Now()
	// Setting a deadline costs a timer update: skip it while it barely moves.
	if d := p.deadline(start); d.Before(p.last) || d.Sub(p.last) > 10*time.Millisecond {
		p.set(d)
		p.last = d
	}
	n, err := op()
	p.waited += time.Since(start)
	p.bytes += int64(n)
	return n, err
}

// timedBody is a request body under a deadline: the request's BodyTimeout, or a
// pacer once the handler declares it a transfer.
type timedBody struct {
	io.ReadCloser
	conn   conn
	within time.Duration // the fixed deadline's length, for the error
	pace   *pacer
	ended  bool
}

func (b *timedBody) Read(p []byte) (int, error) {
	if b.ended {
		// No deadline after the end: see below.
		return b.ReadCloser.Read(p)
	}
	var n int
	var err error
	if b.pace != nil {
		n, err = b.pace.do(func() (int, error) { return b.ReadCloser.Read(p) })
	} else {
		n, err = b.ReadCloser.Read(p)
	}
	if err != nil {
		// The body is over (or broken). The server now reads ahead on the connection
		// to notice a client going away; an expiring read deadline there would cancel
		// the request's context in the middle of its work, so none is left set.
		b.ended = true
		b.conn.readBy(time.Time{})
	}
	if err != nil && isTimeout(err) {
		if b.pace != nil {
			return n, &timeoutError{fmt.Sprintf("upload too slow: no progress for %s or below %s on average after %d bytes",
				b.pace.idle, rateString(b.pace.minRate), b.pace.bytes)}
		}
		return n, &timeoutError{fmt.Sprintf("request body not received within %s", b.within)}
	}
	return n, err
}

// pacedWriter is a response body under a transfer's pacer.
type pacedWriter struct {
	http.ResponseWriter
	pace *pacer
}

func (w *pacedWriter) Write(p []byte) (int, error) {
	return w.pace.do(func() (int, error) { return w.ResponseWriter.Write(p) })
}

func (w *pacedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) newPacer(set func(time.Time)) *pacer {
	p := &pacer{idle: s.cfg.TransferIdleTimeout, set: set}
	if s.cfg.TransferMinRate > 0 {
		p.minRate = float64(s.cfg.TransferMinRate)
	}
	return p
}

// transferBody switches the request's body from the BodyTimeout to the transfer
// deadlines and returns it.
func (s *Server) transferBody(r *http.Request) io.ReadCloser {
	b, ok := r.Body.(*timedBody)
	if !ok {
		return r.Body
	}
	b.pace = s.newPacer(b.conn.readBy)
	return b
}

// answerWithin gives the response ResponseTimeout from now: a transfer's answer comes
// long after the request started (the upload's bytes, then its commit).
func (s *Server) answerWithin(r *http.Request) {
	infoFrom(r.Context()).conn.writeBy(time.Now().Add(s.cfg.ResponseTimeout))
}

// transferWriter returns w with the transfer deadlines on its writes.
func (s *Server) transferWriter(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	return &pacedWriter{ResponseWriter: w, pace: s.newPacer(infoFrom(r.Context()).conn.writeBy)}
}

func rateString(bytesPerSecond float64) string {
	if bytesPerSecond <= 0 {
		return "no minimum rate"
	}
	return fmt.Sprintf("%.0f bytes/s", bytesPerSecond)
}
