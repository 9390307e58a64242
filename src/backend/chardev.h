/* Host ends of a character device (virtio-console's port): a file the
 * guest's output is written to, or a unix stream socket vmon listens on
 * (one client at a time; the device accepts it). Opened by src/vmm from
 * the typed --vconsole settings and handed to the device, which owns it
 * from then on. */
#ifndef VMON_CHARDEV_H
#define VMON_CHARDEV_H
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

struct chardev {
    int out_fd;    /* a file: written, never read */
    int listen_fd; /* a socket: listening */
    int lock_fd;   /* PATH.lock, flock()ed while we own the socket's PATH */
    int dir_fd;    /* the socket's directory (O_PATH): both files are removed there */
    char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* Create or truncate path for writing. 0, or -1 with err (nothing open). */
int chardev_open_file(struct chardev *c, const char *path, char *err, size_t errlen);
/* Listen on a unix socket at path, replacing a socket file nobody serves;
 * another vmon's or program's socket is refused. 0, or -1 with err
 * (nothing open). */
int chardev_open_socket(struct chardev *c, const char *path, char *err, size_t errlen);
/* Close what is open, removing the socket and its lock file. */
void chardev_close(struct chardev *c);
#endif
