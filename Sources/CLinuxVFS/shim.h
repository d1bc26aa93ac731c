// statfs(2), for the file system type: Glibc's Swift module has only statvfs, which lacks it.
#include <sys/vfs.h>
