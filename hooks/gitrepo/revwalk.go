package gitrepo

import (
	"container/heap"
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
)

// slop is how many more commits the walk takes after every queued commit
// is excluded, to absorb committer clocks that go backwards (git uses the
// same number).
const slop = 5

// node is one commit met by commitRange.
type node struct {
	hash     plumbing.Hash
	tree     plumbing.Hash
	parents  []plumbing.Hash // nil for a root or shallow commit
	when     int64           // committer time, Unix seconds
	seq      int             // order of first queueing, to break ties
	loaded   bool
	queued   bool
	popped   bool
	excluded bool // reachable from exclude
}

// commitRange returns the commits reachable from include and not from
// exclude, newest first, and the excluded parents of those commits (whose
// trees bound the range). It walks in committer-date order and stops once
// only excluded commits are queued, as git's revision walk does; if
// committer dates lie, a commit reachable from exclude may be returned (more
// work for the caller, never a missed commit).
func (r *Repo) commitRange(ctx context.Context, include, exclude []plumbing.Hash) (commits, boundary []*node, err error) {
	nodes := make(map[plumbing.Hash]*node)
	get := func(h plumbing.Hash) *node {
		n := nodes[h]
		if n == nil {
			n = &node{hash: h}
			nodes[h] = n
		}
		return n
	}
	var q queue
	seq := 0
	interesting := 0 // queued, not popped, not excluded
	push := func(n *node) error {
		if n.queued {
			return nil
		}
		if err := r.load(n); err != nil {
			return err
		}
		n.queued = true
		seq++
		n.seq = seq
		heap.Push(&q, n)
		if !n.excluded {
			interesting++
		}
		return nil
	}
	// markExcluded flags n and, for commits already walked, their
	// ancestors met so far.
	markExcluded := func(n *node) {
		stack := []*node{n}
		for len(stack) > 0 {
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if x.excluded {
				continue
			}
			x.excluded = true
			if x.queued && !x.popped {
				interesting--
			}
			if x.popped {
				for _, p := range x.parents {
					stack = append(stack, get(p))
				}
			}
		}
	}

	for _, h := range exclude {
		c, err := r.tipCommit(h)
		if errors.Is(err, ErrUnknownRevision) || errors.Is(err, plumbing.ErrObjectNotFound) {
			continue // not fetched here, or not a commit: nothing to exclude
		}
		if err != nil {
			return nil, nil, fmt.Errorf("exclude %s: %w", h, err)
		}
		if c.IsZero() {
			continue
		}
		n := get(c)
		markExcluded(n)
		if err := push(n); err != nil {
			return nil, nil, err
		}
	}
	for _, h := range include {
		c, err := r.tipCommit(h)
		if err != nil {
			return nil, nil, fmt.Errorf("include %s: %w", h, err)
		}
		if c.IsZero() {
			continue
		}
		if err := push(get(c)); err != nil {
			return nil, nil, err
		}
	}

	var order []*node
	left := slop
	for q.Len() > 0 {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if interesting == 0 {
			if left--; left < 0 {
				break
			}
		} else {
			left = slop
		}
		n := heap.Pop(&q).(*node)
		n.popped = true
		if !n.excluded {
			interesting--
			order = append(order, n)
		}
		for _, ph := range n.parents {
			p := get(ph)
			if n.excluded {
				markExcluded(p)
			}
			if err := push(p); err != nil {
				return nil, nil, err
			}
		}
	}

	inBoundary := make(map[*node]bool)
	for _, n := range order {
		if n.excluded {
			continue
		}
		commits = append(commits, n)
		for _, ph := range n.parents {
			if p := nodes[ph]; p != nil && p.excluded && !inBoundary[p] {
				inBoundary[p] = true
				boundary = append(boundary, p)
			}
		}
	}
	return commits, boundary, nil
}

// tipCommit peels h to a commit; the zero hash stays zero.
func (r *Repo) tipCommit(h plumbing.Hash) (plumbing.Hash, error) {
	if h.IsZero() {
		return h, nil
	}
	return r.peel(h)
}

// load reads n's commit once.
func (r *Repo) load(n *node) error {
	if n.loaded {
		return nil
	}
	c, err := r.commit(n.hash)
	if err != nil {
		return err
	}
	n.tree = c.TreeHash
	n.when = c.Committer.When.Unix()
	if !r.shallow[n.hash] {
		n.parents = c.ParentHashes
	}
	n.loaded = true
	return nil
}

// queue is a max-heap of commits by committer time, first queued first on
// ties.
type queue []*node

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].when != q[j].when {
		return q[i].when > q[j].when
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*node)) }
func (q *queue) Pop() any {
	old := *q
	n := old[len(old)-1]
	*q = old[:len(old)-1]
	return n
}
