// Package filterproc is the server side of git's long-running filter
// process protocol, version 2 (see "Long Running Filter Process" in
// gitattributes(5) and git's Documentation/technical/
// long-running-process-protocol). git-lode runs it as "git-lode
// filter-process", configured as filter.lode.process. The package knows
// nothing of chunks or stores: it speaks the protocol and calls a Handler.
//
// # Framing
//
// Everything travels as pkt-lines: four lowercase hex digits giving the
// length of the packet including those four, then the payload. "0000" is a
// flush packet and ends a list or a content section. A payload holds at most
// MaxPayload (65516) bytes. Text packets end in "\n", which is not part of
// their value.
//
// # Handshake
//
//	git> git-filter-client, version=2, 0000
//	   < git-filter-server, version=2, 0000
//	git> capability=clean, capability=smudge, capability=delay, 0000
//	   < capability=clean, capability=smudge[, capability=delay], 0000
//
// Serve answers with the capabilities git offered that it supports: clean and
// smudge always, delay only if Options.Delay is set and the Handler is also a
// Delayer. A welcome other than git-filter-client, or no version=2 among the
// versions offered, ends Serve with an error wrapping ErrProtocol.
//
// # Requests
//
// A request is a list of key=value packets (command, pathname, and
// optionally ref, treeish, blob, can-delay; unknown keys are ignored),
// a flush, the content in zero or more packets, and a flush. The answer is
//
//	status=success, 0000, content packets, 0000, 0000
//
// where the last flush ends an empty second status list, which keeps
// "success". A Handler error before any output reached git is answered with
// "status=error", 0000 and no content. An error after output began to go out is
// answered by ending the content (0000) and sending "status=error", 0000;
// git then discards what it got. An error wrapping ErrAbort answers
// status=abort instead, which makes git stop sending that command for the
// rest of its run. Either way one line goes to Options.Stderr, such as
// "git-lode: smudge data/big.csv: <error>", and Serve goes on with the next
// request. A command other than clean, smudge or (with delay)
// list_available_blobs is answered with status=error; it has no content
// section.
//
// # The deadlock rule
//
// git writes a request's whole content before it reads anything back, so
// the filter must not write its answer before it has read that content to
// its final flush: if both sides block writing into full pipes, neither
// ever reads. Serve keeps the rule without buffering input it need not:
//
//   - clean streams the content to the Handler as it arrives (a 10 GiB file
//     passes through a fixed buffer). What the Handler writes before its
//     reader has returned io.EOF is held back (in memory, or in a temporary
//     file beyond Options.SpoolMemory); a cleaning Handler normally writes
//     its small pointer only after EOF, which goes straight out. When the
//     Handler returns, Serve discards any content it did not read, up to
//     the flush, before answering. Held output is only ever sent with a
//     success; if the Handler fails while its output is held, git gets a
//     plain status=error.
//   - smudge reads the whole content first, in memory up to
//     Options.SpoolMemory and in an unlinked temporary file in
//     Options.SpoolDir beyond that, then calls the Handler with a reader over
//     it; what the Handler writes streams to git.
//
// # Delay
//
// With delay negotiated, git marks smudge requests it lets the filter
// postpone with can-delay=1. Serve offers such a request (if its content
// is held in memory) to Delayer.Delay; when Delay accepts, Serve answers
// "status=delayed", 0000 and keeps the content by pathname. Once git has
// sent all it wants, it asks "command=list_available_blobs", 0000; Serve
// calls Delayer.Available, which blocks until some files are ready, and
// answers
//
//	pathname=<ready>..., 0000, status=success, 0000
//
// An empty list tells git that nothing more will come. git then asks for
// each listed pathname again, with a smudge request without can-delay and
// with empty content; Serve calls Handler.Smudge with the kept content and
// Request.Delayed set, and forgets it. Serve only lists pathnames it is
// keeping and has not listed yet, and answers an empty list without calling
// Available when there are none.
//
// Keeping every delayed file's content makes the filter's memory grow with
// the number of files of a checkout (a clone of a million files). With
// Options.DelayedContent set, a delayed request that names its blob (git sends
// blob=<oid> with every smudge of a checkout, the second request too) is
// only counted: on the second request, a smudge with empty content naming
// a blob that is not the empty one, Serve gets the content back through
// DelayedContent. Serve then cannot check the pathnames Available
// lists against those it delayed, and trusts the Delayer for them.
//
// # Why not go-git's pktline package
//
// go-git's plumbing/format/pktline Scanner treats any packet whose payload
// starts with "ERR " as an error line and stops: a file whose content
// happens to put "ERR " at the start of a 65516-byte packet would fail to
// clean. Its Encoder writes each payload as given, while content must be cut
// into full packets, and it builds trace arguments for every packet. The
// reader and writer here are small: the reader peeks payloads in a
// 128 KiB buffer and hands them to the Handler (or, through WriteTo, to
// io.Copy's destination) without a copy of its own; the writer builds full
// packets in place and sends each, with any control packets before it, in
// one Write. On this machine both directions run at the speed of an OS pipe
// itself (about 4.5 GB/s), so the protocol costs nothing next to hashing.
package filterproc
