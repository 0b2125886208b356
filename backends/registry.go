package backend

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Registry holds what registers itself from init by name (the backends here; package workloads keeps its
// workloads in one too) and gives it back in display order.
type Registry[T interface{ Name() string }] struct {
	kind   string   // what is registered, for errors: "backend"
	order  []string // display order of known names; others follow by name
	mu     sync.Mutex
	byName map[string]T
}

// NewRegistry returns an empty registry of kind, listed in order.
func NewRegistry[T interface{ Name() string }](kind string, order ...string) *Registry[T] {
	return &Registry[T]{kind: kind, order: order, byName: map[string]T{}}
}

// Register adds v. Registering a name twice panics.
func (r *Registry[T]) Register(v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.byName[v.Name()]; dup {
		panic(r.kind + " registered twice: " + v.Name())
	}
	r.byName[v.Name()] = v
}

// All returns everything registered, in display order.
func (r *Registry[T]) All() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	rank := func(n string) int {
		if i := slices.Index(r.order, n); i >= 0 {
			return i
		}
		return len(r.order)
	}
	out := make([]T, 0, len(r.byName))
	for _, v := range r.byName {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b T) int {
		if ra, rb := rank(a.Name()), rank(b.Name()); ra != rb {
			return ra - rb
		}
		return strings.Compare(a.Name(), b.Name())
	})
	return out
}

// Names lists the registered names in display order.
func (r *Registry[T]) Names() []string {
	var names []string
	for _, v := range r.All() {
		names = append(names, v.Name())
	}
	return names
}

// Lookup finds v by name; the error lists the known names.
func (r *Registry[T]) Lookup(name string) (T, error) {
	r.mu.Lock()
	v, ok := r.byName[name]
	r.mu.Unlock()
	if !ok {
		return v, fmt.Errorf("unknown %s %q (known: %s)", r.kind, name, strings.Join(r.Names(), ", "))
	}
	return v, nil
}
