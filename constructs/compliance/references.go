package compliance

import "strings"

// referencing maps each resource of targetType to the resources of typ whose attr refers
// to it (a whole-value reference such as "${aws_vpc.Main.id}").
func (c *checker) referencing(typ, attr, targetType string) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for _, name := range c.resources(typ) {
		body := c.t.Resource[typ][name]
		if target, ok := referenced(body[attr], targetType); ok {
			out[target] = append(out[target], body)
		}
	}
	return out
}

// bodies returns every resource of typ, in name order.
func (c *checker) bodies(typ string) []map[string]any {
	out := make([]map[string]any, 0, len(c.t.Resource[typ]))
	for _, name := range c.resources(typ) {
		out = append(out, c.t.Resource[typ][name])
	}
	return out
}

// count is the number of elements of a list attribute; a reference to a list (a
// token) counts as unknown, -1.
func count(v any) int {
	switch x := v.(type) {
	case []any:
		return len(x)
	case string:
		if strings.HasPrefix(x, "${") {
			return -1
		}
	}
	return 0
}

// enabled reports whether v is true; a missing value is def.
func enabled(v any, def bool) bool {
	if v == nil {
		return def
	}
	b, ok := v.(bool)
	return ok && b
}
