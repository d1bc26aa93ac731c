// One DNS query through glibc's resolver (libresolv). res_nquery and friends are macros for
// __res_n* in <resolv.h>, which Swift cannot call by their documented names, and the
// nameserver list is a C array of sockaddr_in inside the resolver state: both are simpler here.
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <string.h>
#include <netdb.h>

/// Asks for `type` records (class IN) of `name`; the raw answer goes to `answer`. With `server`
/// (an IPv4 address) that server alone is asked, on `port`; else the system's resolv.conf.
/// `timeout` seconds per try, `attempts` tries. Returns the answer's length, or -1 with
/// `*herror` set (HOST_NOT_FOUND: no such name, NO_DATA: no record of that type, TRY_AGAIN,
/// NO_RECOVERY; -2 when `server` is no IPv4 address).
static inline int syncd_dns_query(const char *name, int type, const char *server, int port,
                                  int timeout, int attempts, unsigned char *answer, int length, int *herror) {
    struct __res_state state;
    memset(&state, 0, sizeof state);
    if (res_ninit(&state) != 0) { *herror = NO_RECOVERY; return -1; }
    state.retrans = timeout;
    state.retry = attempts;
    if (server != NULL) {
        struct in_addr address;
        if (inet_pton(AF_INET, server, &address) != 1) { res_nclose(&state); *herror = -2; return -1; }
        state.nsaddr_list[0].sin_family = AF_INET;
        state.nsaddr_list[0].sin_addr = address;
        state.nsaddr_list[0].sin_port = htons((unsigned short)port);
        state.nscount = 1;
    }
    int n = res_nquery(&state, name, ns_c_in, type, answer, length);
    *herror = state.res_h_errno;
    res_nclose(&state);
    return n;
}

/// The SRV record at `index` of the answer section of `message` (glibc's ns_initparse,
/// ns_parserr and dn_expand: RFC 1035 names, compression loops refused). Returns 1 with the
/// fields set, 0 if that answer is no SRV record, -1 if the message or the record is malformed
/// or there is no such answer. `target` gets the host name as dn_expand writes it ("." for the root).
static inline int syncd_dns_srv(const unsigned char *message, int length, int index, unsigned short *priority,
                                unsigned short *weight, unsigned short *port, char *target, int target_length) {
    ns_msg parsed;
    ns_rr record;
    if (ns_initparse(message, length, &parsed) != 0) return -1;
    if (index >= ns_msg_count(parsed, ns_s_an)) return -1;
    if (ns_parserr(&parsed, ns_s_an, index, &record) != 0) return -1;
    if (ns_rr_type(record) != ns_t_srv || ns_rr_class(record) != ns_c_in) return 0;
    const unsigned char *data = ns_rr_rdata(record);
    if (ns_rr_rdlen(record) < 7) return -1;
    *priority = ns_get16(data);
    *weight = ns_get16(data + 2);
    *port = ns_get16(data + 4);
    if (dn_expand(ns_msg_base(parsed), ns_msg_end(parsed), data + 6, target, target_length) < 0) return -1;
    return 1;
}

/// How many answers the message says it has; -1 if it does not parse.
static inline int syncd_dns_answers(const unsigned char *message, int length) {
    ns_msg parsed;
    if (ns_initparse(message, length, &parsed) != 0) return -1;
    return ns_msg_count(parsed, ns_s_an);
}
