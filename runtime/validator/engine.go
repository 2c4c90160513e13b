package validator

import (
	"errors"
	"fmt"
	"reflect"
	"runtime/metrics"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
)

// scriptName is the file name goja reports in errors and stack traces.
const scriptName = "validator.js"

// Interrupt values: why the watchdog stopped the script.
var (
	errDeadline = errors.New("deadline")
	errHeap     = errors.New("heap")
)

// engineLimits bound one evaluation inside the child.
type engineLimits struct {
	Deadline   time.Time
	HeapBytes  uint64
	StackDepth int
}

// verdict is the engine's answer: an outcome and its reason, plus console output.
type verdict struct {
	Outcome Outcome
	Reason  string
	Logs    string
}

// checkSource parses and compiles src and makes sure it declares validate at the top
// level. It runs in the child: a pathological source (deeply nested brackets) costs
// the parser seconds and hundreds of MiB of stack.
func checkSource(src string) error {
	prg, err := goja.Parse(scriptName, src)
	if err != nil {
		return &SourceError{Msg: firstLine(err.Error())}
	}
	if _, err := goja.CompileAST(prg, false); err != nil {
		return &SourceError{Msg: firstLine(err.Error())}
	}
	if !declaresValidate(prg) {
		return &SourceError{Msg: "the validator must declare a top-level function validate(input)"}
	}
	return nil
}

// declaresValidate reports whether the program has a top-level function declaration,
// var, let or const named validate.
func declaresValidate(prg *ast.Program) bool {
	named := func(list []*ast.Binding) bool {
		for _, b := range list {
			if id, ok := b.Target.(*ast.Identifier); ok && id.Name == "validate" {
				return true
			}
		}
		return false
	}
	for _, st := range prg.Body {
		switch s := st.(type) {
		case *ast.FunctionDeclaration:
			if s.Function.Name != nil && s.Function.Name.Name == "validate" {
				return true
			}
		case *ast.VariableStatement:
			if named(s.List) {
				return true
			}
		case *ast.LexicalDeclaration:
			if named(s.List) {
				return true
			}
		}
	}
	return false
}

// newRuntime is a goja runtime with nothing of the host in it. goja itself binds no
// I/O; of its globals only GoError (a wrapper for Go errors) is not ECMAScript, and it
// goes. console is the one addition: it writes to a bounded buffer, never to a file.
func newRuntime(stackDepth int, logs *logBuffer) *goja.Runtime {
	vm := goja.New()
	vm.SetMaxCallStackSize(stackDepth)
	g := vm.GlobalObject()
	_ = g.Delete("GoError")
	console := vm.NewObject()
	for _, name := range []string{"log", "info", "warn", "error", "debug"} {
		_ = console.Set(name, func(call goja.FunctionCall) goja.Value {
			logs.add(call.Arguments)
			return goja.Undefined()
		})
	}
	_ = g.Set("console", console)
	return vm
}

// evaluate runs src's validate(input) under lim. inputJSON is the Input, encoded.
func evaluate(src string, inputJSON []byte, lim engineLimits) (v verdict) {
	logs := &logBuffer{max: MaxLogBytes}
	defer func() {
		if p := recover(); p != nil {
			// Go-side calls into script values (a getter on the result, toString of a
			// thrown object) raise the engine's interrupts as panics.
			if err, ok := p.(error); ok {
				v = failure(err, lim)
			} else {
				v = verdict{Outcome: OutcomeError, Reason: clip(fmt.Sprintf("engine failure: %v", p))}
			}
		}
		v.Logs = logs.String()
	}()
	vm := newRuntime(lim.StackDepth, logs)
	stop := watch(vm, lim)
	defer stop()

	prg, err := goja.Compile(scriptName, src, false)
	if err != nil {
		return verdict{Outcome: OutcomeError, Reason: clip(firstLine(err.Error()))}
	}
	if _, err := vm.RunProgram(prg); err != nil {
		return failure(err, lim)
	}
	fn, err := vm.RunString(`typeof validate === "function" ? validate : undefined`)
	if err != nil {
		return failure(err, lim)
	}
	validate, ok := goja.AssertFunction(fn)
	if !ok {
		return verdict{Outcome: OutcomeError, Reason: "the validator does not define a function validate(input)"}
	}
	parse, _ := goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("parse"))
	input, err := parse(goja.Undefined(), vm.ToValue(string(inputJSON)))
	if err != nil {
		return failure(err, lim)
	}
	res, err := validate(goja.Undefined(), input)
	if err != nil {
		return failure(err, lim)
	}
	out, err := interpret(vm, res)
	if err != nil {
		var ie *goja.InterruptedError
		if errors.As(err, &ie) {
			return failure(err, lim)
		}
		return verdict{Outcome: OutcomeError, Reason: clip("malformed result: " + err.Error())}
	}
	return out
}

// interpret holds res to the result contract.
func interpret(vm *goja.Runtime, res goja.Value) (verdict, error) {
	if res == nil || goja.IsUndefined(res) || goja.IsNull(res) {
		return verdict{}, errors.New("validate returned nothing; it must return {allow, reason}")
	}
	obj, ok := res.(*goja.Object)
	if !ok {
		return verdict{}, fmt.Errorf("validate returned a %s; it must return an object {allow, reason}", res.ExportType())
	}
	if _, isProxy := obj.Export().(goja.Proxy); isProxy {
		return verdict{}, errors.New("validate returned a Proxy; it must return a plain object")
	}
	if obj.ClassName() != "Object" {
		return verdict{}, fmt.Errorf("validate returned a %s; it must return a plain object {allow, reason} (synchronously)", obj.ClassName())
	}
	if proto := obj.Prototype(); proto == nil || !proto.SameAs(vm.Get("Object").ToObject(vm).Get("prototype")) {
		return verdict{}, errors.New("validate returned an object that is not a plain object")
	}
	if syms := obj.Symbols(); len(syms) > 0 {
		return verdict{}, errors.New("the result has symbol properties; only allow and reason are allowed")
	}
	for _, k := range obj.GetOwnPropertyNames() {
		if k != "allow" && k != "reason" {
			return verdict{}, fmt.Errorf("the result has a property %q; only allow and reason are allowed", clipTo(k, 64))
		}
	}
	allowV := obj.Get("allow")
	if !isPrimitive(allowV, reflect.Bool) {
		return verdict{}, errors.New("allow must be true or false")
	}
	allow := allowV.ToBoolean()
	reason := ""
	if rv := obj.Get("reason"); rv != nil && !goja.IsUndefined(rv) {
		if !isPrimitive(rv, reflect.String) {
			return verdict{}, errors.New("reason must be a string")
		}
		s := rv.String()
		if len(s) > MaxReasonBytes {
			return verdict{}, fmt.Errorf("reason is %d bytes; at most %d are allowed", len(s), MaxReasonBytes)
		}
		if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == utf8.RuneError }) {
			return verdict{}, errors.New("reason must be printable text (no control characters, valid UTF-16)")
		}
		reason = s
	}
	if !allow && reason == "" {
		return verdict{}, errors.New("a deny needs a non-empty reason")
	}
	if allow {
		return verdict{Outcome: OutcomeAllowed, Reason: reason}, nil
	}
	return verdict{Outcome: OutcomeDenied, Reason: reason}, nil
}

// isPrimitive reports whether v is a primitive of kind k (a Boolean or String
// wrapper object does not count).
func isPrimitive(v goja.Value, k reflect.Kind) bool {
	if v == nil {
		return false
	}
	if _, isObj := v.(*goja.Object); isObj {
		return false
	}
	t := v.ExportType()
	return t != nil && t.Kind() == k
}

// failure classifies an error from the engine.
func failure(err error, lim engineLimits) verdict {
	var (
		ie *goja.InterruptedError
		so *goja.StackOverflowError
		ex *goja.Exception
	)
	switch {
	case errors.As(err, &ie) && ie.Value() == errDeadline:
		return verdict{Outcome: OutcomeTimeout, Reason: "the validator ran past its deadline"}
	case errors.As(err, &ie) && ie.Value() == errHeap:
		return verdict{Outcome: OutcomeMemory, Reason: fmt.Sprintf("the validator used more than %d MiB of heap", lim.HeapBytes>>20)}
	case errors.As(err, &so):
		return verdict{Outcome: OutcomeMemory, Reason: fmt.Sprintf("the validator's call stack went deeper than %d frames", lim.StackDepth)}
	case errors.As(err, &ex):
		return verdict{Outcome: OutcomeError, Reason: clip("the validator threw: " + firstLine(ex.Error()))}
	default:
		return verdict{Outcome: OutcomeError, Reason: clip("the validator failed: " + firstLine(err.Error()))}
	}
}

// heapSample is the metric the watchdog reads: bytes in heap objects, live or not yet
// swept. Reading it does not stop the world.
const heapSample = "/memory/classes/heap/objects:bytes"

// watch interrupts vm when the deadline passes or the heap outgrows its quota. The
// engine only sees an interrupt between instructions: a single built-in call (a huge
// String.prototype.repeat) is stopped by the child's rlimits and the parent's kill.
func watch(vm *goja.Runtime, lim engineLimits) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		sample := []metrics.Sample{{Name: heapSample}}
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				if now.After(lim.Deadline) {
					vm.Interrupt(errDeadline)
					return
				}
				metrics.Read(sample)
				if sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() > lim.HeapBytes {
					vm.Interrupt(errHeap)
					return
				}
			}
		}
	}()
	return func() { close(done) }
}

// logBuffer keeps the first max bytes of console output and counts the rest.
type logBuffer struct {
	b       strings.Builder
	max     int
	dropped int
}

func (l *logBuffer) add(args []goja.Value) {
	if l.b.Len() >= l.max {
		l.dropped++
		return
	}
	for i, a := range args {
		if i > 0 {
			l.b.WriteByte(' ')
		}
		s := a.String()
		if room := l.max - l.b.Len(); len(s) > room {
			s = clipTo(s, room)
		}
		l.b.WriteString(s)
	}
	l.b.WriteByte('\n')
}

func (l *logBuffer) String() string {
	if l.dropped > 0 {
		return l.b.String() + fmt.Sprintf("[%d more console calls dropped]\n", l.dropped)
	}
	return l.b.String()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// clip bounds a reason to MaxReasonBytes.
func clip(s string) string { return clipTo(s, MaxReasonBytes) }

// clipTo cuts s to at most n bytes without splitting a UTF-8 sequence.
func clipTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
