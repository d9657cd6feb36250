/* udptool: the guest's (and the test host's) UDP end, because busybox nc
 * has no -u and ash has no /dev/udp.  Built static so the same binary runs
 * in the busybox initramfs and on the host.
 *
 *   udptool send IP PORT MESSAGE      one datagram
 *   udptool recv IP PORT SECONDS      print the first datagram received on
 *                                     IP:PORT ("" = any), exit 1 on timeout
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int address(const char *ip, const char *port, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((unsigned short)atoi(port));
    if (!*ip)
        return 0;
    return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa;
    int s;

    if (argc != 5 || address(argv[2], argv[3], &sa) < 0) {
        fprintf(stderr, "usage: udptool send|recv IP PORT MESSAGE|SECONDS\n");
        return 2;
    }
    s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0) {
        perror("socket");
        return 1;
    }
    if (strcmp(argv[1], "send") == 0) {
        size_t len = strlen(argv[4]);
        if (sendto(s, argv[4], len, 0, (struct sockaddr *)&sa, sizeof(sa)) != (ssize_t)len) {
            perror("sendto");
            return 1;
        }
        return 0;
    }
    if (strcmp(argv[1], "recv") == 0) {
        char buf[2048];
        struct pollfd p = { s, POLLIN, 0 };
        ssize_t n;
        if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            perror("bind");
            return 1;
        }
        /* Tell whoever waits for us that we listen now. */
        printf("listening\n");
        fflush(stdout);
        if (poll(&p, 1, atoi(argv[4]) * 1000) != 1) {
            fprintf(stderr, "udptool: no datagram within %s s\n", argv[4]);
            return 1;
        }
        n = recv(s, buf, sizeof(buf) - 1, 0);
        if (n < 0) {
            perror("recv");
            return 1;
        }
        buf[n] = '\0';
        printf("received %s\n", buf);
        return 0;
    }
    fprintf(stderr, "udptool: unknown mode %s\n", argv[1]);
    return 2;
}
