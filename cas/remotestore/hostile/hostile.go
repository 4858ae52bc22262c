// Package hostile writes crafted lode remotes for tests: what someone who
// can write to a bucket, or bad luck, could leave there. Every function
// writes through a remote.Backend and follows the remote layout (package
// cas/remotestore), but none of them checks what it writes: ids need not
// match content, lengths need not respect the format's bounds, indexes
// need not match their packs.
package hostile

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/compress"
	"github.com/lodevcs/lode/cas/manifest"
	"github.com/lodevcs/lode/cas/pack"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/remote"
	"github.com/zeebo/blake3"
)

// Object is one entry of a crafted pack.
type Object struct {
	ID     cas.ID
	Kind   cas.Kind
	Method compress.Method
	RawLen uint32 // what the header claims
	Stored []byte
}

// EncodePack returns the bytes of a pack holding objs, as they are, and
// its index (whose checksum, the last 32 bytes, is the pack id).
func EncodePack(objs []Object) (packBytes, idx []byte, id cas.ID) {
	var buf bytes.Buffer
	buf.WriteString("LODEPACK")
	buf.Write([]byte{0, 0, 0, 1, 0, 0, 0, 0})
	var entries []pack.Entry
	for _, o := range objs {
		e := pack.Entry{ID: o.ID, Kind: o.Kind, Method: o.Method, Offset: int64(buf.Len()), RawLen: o.RawLen, StoredLen: uint32(len(o.Stored))}
		var h [pack.EntryHeaderSize]byte
		copy(h[0:32], o.ID[:])
		h[32], h[33] = byte(o.Kind), byte(o.Method)
		binary.BigEndian.PutUint32(h[36:40], o.RawLen)
		binary.BigEndian.PutUint32(h[40:44], uint32(len(o.Stored)))
		buf.Write(h[:])
		buf.Write(o.Stored)
		entries = append(entries, e)
	}
	idx = pack.EncodeIndex(entries, int64(buf.Len()))
	copy(id[:], idx[len(idx)-32:])
	return buf.Bytes(), idx, id
}

// PutPack uploads a pack of objs and its index, and returns the pack id.
func PutPack(ctx context.Context, b remote.Backend, objs []Object) (cas.ID, error) {
	p, idx, id := EncodePack(objs)
	if err := put(ctx, b, PackName(id), p); err != nil {
		return id, err
	}
	return id, put(ctx, b, IndexName(id), idx)
}

// PackName and IndexName are the names of pack id's files on a remote.
func PackName(id cas.ID) string  { return "packs/" + id.String() + ".pack" }
func IndexName(id cas.ID) string { return "packs/" + id.String() + ".idx" }

// Packs lists the ids of the packs that have an index on b.
func Packs(ctx context.Context, b remote.Backend) ([]cas.ID, error) {
	var ids []cas.ID
	err := b.List(ctx, "packs/", remote.ListOptions{}, func(i remote.Info) error {
		hex, ok := strings.CutSuffix(strings.TrimPrefix(i.Name, "packs/"), ".idx")
		if !ok {
			return nil
		}
		id, err := cas.ParseID(hex)
		if err == nil {
			ids = append(ids, id)
		}
		return nil
	})
	return ids, err
}

// Get reads a whole object of b.
func Get(ctx context.Context, b remote.Backend, name string) ([]byte, error) {
	rc, err := b.Get(ctx, name, 0, -1, remote.GetOptions{})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func put(ctx context.Context, b remote.Backend, name string, data []byte) error {
	return b.Put(ctx, name, bytes.NewReader(data), int64(len(data)), remote.PutOptions{})
}

// ForgeManifest uploads, under the id at which readers look for the
// manifest of the file p points to, a manifest that lists the chunks of
// other (valid chunks of other content), with p's oid and size and every
// checksum recomputed: the forgery of a writer who knows the format. For
// a version 1 pointer it is a format 1 manifest under the derived id; for
// a version 2 pointer, a format 2 manifest that claims the pointer's id.
func ForgeManifest(ctx context.Context, b remote.Backend, p pointer.Pointer, other *manifest.Manifest) (cas.ID, error) {
	forged := *other
	forged.OID = p.OID
	id, ok := manifest.ObjectID(p)
	if !ok {
		return cas.ID{}, fmt.Errorf("the file %s has no manifest to forge", p.OID.Short())
	}
	raw := forged.Encode()
	if p.V1 {
		raw = forged.EncodeV1()
	}
	return PutPack(ctx, b, []Object{{ID: id, Kind: cas.KindManifest, Method: compress.None, RawLen: uint32(len(raw)), Stored: raw}})
}

// ForgeLocated uploads, as manifests/<oid> (layout 1), a located manifest
// for p's oid that lists the chunks of other, where loc says they are.
func ForgeLocated(ctx context.Context, b remote.Backend, p pointer.Pointer, other *manifest.Manifest, locs []manifest.Location) error {
	l := &manifest.Located{Manifest: *other, Locs: locs}
	l.OID = p.OID
	return put(ctx, b, "manifests/"+p.OID.String(), l.Encode())
}

// RewriteIndex replaces the index of pack id by one whose records f
// returns (the pack is copied to the new id's name, the old pack and index
// are deleted), with the checksum recomputed: an index that is
// internally consistent but lies about its pack. It returns the new id.
func RewriteIndex(ctx context.Context, b remote.Backend, id cas.ID, f func([]pack.Entry) []pack.Entry) (cas.ID, error) {
	p, err := Get(ctx, b, PackName(id))
	if err != nil {
		return cas.ID{}, err
	}
	idxBytes, err := Get(ctx, b, IndexName(id))
	if err != nil {
		return cas.ID{}, err
	}
	ix, err := pack.ParseIndex(idxBytes)
	if err != nil {
		return cas.ID{}, err
	}
	var entries []pack.Entry
	for i := 0; i < ix.Len(); i++ {
		e, err := ix.Entry(i)
		if err != nil {
			return cas.ID{}, err
		}
		entries = append(entries, e)
	}
	idx := encodeIndexUnchecked(f(entries), ix.PackSize())
	var nid cas.ID
	copy(nid[:], idx[len(idx)-32:])
	if err := put(ctx, b, PackName(nid), p); err != nil {
		return nid, err
	}
	if err := put(ctx, b, IndexName(nid), idx); err != nil {
		return nid, err
	}
	if nid != id {
		b.Delete(ctx, IndexName(id))
		b.Delete(ctx, PackName(id))
	}
	return nid, nil
}

// encodeIndexUnchecked encodes records in the order given (pack.EncodeIndex
// sorts them, which would undo some forgeries).
func encodeIndexUnchecked(entries []pack.Entry, packSize int64) []byte {
	b := make([]byte, 16+pack.RecordSize*len(entries)+40)
	copy(b, "LODEINDX")
	binary.BigEndian.PutUint32(b[8:12], pack.Version)
	binary.BigEndian.PutUint32(b[12:16], uint32(len(entries)))
	p := b[16:]
	for _, e := range entries {
		copy(p[0:32], e.ID[:])
		binary.BigEndian.PutUint64(p[32:40], uint64(e.Offset))
		binary.BigEndian.PutUint32(p[40:44], e.RawLen)
		binary.BigEndian.PutUint32(p[44:48], e.StoredLen)
		p[48], p[49] = byte(e.Kind), byte(e.Method)
		p = p[pack.RecordSize:]
	}
	binary.BigEndian.PutUint64(p[0:8], uint64(packSize))
	sum := blake3.Sum256(b[:len(b)-32])
	copy(p[8:40], sum[:])
	return b
}

// SwapOffsets is a RewriteIndex function that points the first two
// records at each other's entries.
func SwapOffsets(es []pack.Entry) []pack.Entry {
	if len(es) >= 2 {
		es[0].Offset, es[1].Offset = es[1].Offset, es[0].Offset
	}
	return es
}

// OversizeChunk returns an object that claims to be a chunk of n raw bytes
// (stored raw, n bytes of zeros): over the format's bound when n is more
// than 128 KiB. Its id is the hash of its bytes, so only the bound
// rejects it.
func OversizeChunk(n int) Object {
	raw := make([]byte, n)
	return Object{ID: cas.Sum(raw), Kind: cas.KindChunk, Method: compress.None, RawLen: uint32(n), Stored: raw}
}
