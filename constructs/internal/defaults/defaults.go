// Package defaults applies a construct's documented defaults to its props the same way
// everywhere: a nil *Props is the zero value, and every zero field takes its default.
package defaults

// Copy returns *props, or the zero value when props is nil, so New never changes the
// caller's struct.
func Copy[T any](props *T) T {
	var p T
	if props != nil {
		p = *props
	}
	return p
}

// Set gives *field the value def when *field is its type's zero value.
func Set[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}
