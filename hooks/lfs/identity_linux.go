package lfs

import (
	"os"
	"syscall"
)

// sysIdentity fills the device, inode and change time of id from fi.
func sysIdentity(fi os.FileInfo, id *identity) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = uint64(st.Dev), st.Ino
		id.ctime = st.Ctim.Nano()
	}
}
