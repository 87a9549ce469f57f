/* SERVER_ALLOWED_IPS: tables of lists that parse (and what they match) and lists that do not. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "check.h"
#include "netacl.h"

static char err[256];

/* A peer address from text: IPv4 as sockaddr_in, anything with ':' as sockaddr_in6. */
static socklen_t peer(const char *text, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(text, ':') == NULL) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		CHECKF(inet_pton(AF_INET, text, &in->sin_addr) == 1, "%s", text);
		return sizeof(*in);
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	in6->sin6_family = AF_INET6;
	CHECKF(inet_pton(AF_INET6, text, &in6->sin6_addr) == 1, "%s", text);
	return sizeof(*in6);
}

static bool allows(const struct netacl *acl, const char *text)
{
	struct sockaddr_storage ss;
	socklen_t len = peer(text, &ss);

	return netacl_allows(acl, (const struct sockaddr *)&ss, len);
}

struct match_case {
	const char *list;
	const char *printed; /* netacl_format's text */
	const char *in[6];   /* allowed peers */
	const char *out[6];  /* refused peers */
};

static const struct match_case matches[] = {
    {"", "", {"1.2.3.4", "::1", "::ffff:10.0.0.1"}, {NULL}},
    {"127.0.0.2/32", "127.0.0.2/32", {"127.0.0.2", "::ffff:127.0.0.2"}, {"127.0.0.1", "127.0.0.3", "::1", "::ffff:127.0.0.1"}},
    {"127.0.0.2", "127.0.0.2/32", {"127.0.0.2"}, {"127.0.0.1"}},
    {"0.0.0.0/0", "0.0.0.0/0", {"0.0.0.0", "255.255.255.255", "::ffff:8.8.8.8"}, {"::1", "2001:db8::1"}},
    {"::/0", "::/0", {"::1", "2001:db8::1", "::"}, {"1.2.3.4", "::ffff:1.2.3.4"}},
    {"0.0.0.0/0 ::/0", "0.0.0.0/0 ::/0", {"1.2.3.4", "::1", "::ffff:1.2.3.4"}, {NULL}},
    {"10.0.0.0/8,192.168.1.0/24", "10.0.0.0/8 192.168.1.0/24",
     {"10.255.255.255", "10.0.0.0", "192.168.1.77"}, {"11.0.0.0", "9.255.255.255", "192.168.2.1"}},
    {" , 10.1.2.0/23 ,, ", "10.1.2.0/23", {"10.1.2.1", "10.1.3.255"}, {"10.1.4.0", "10.1.1.255"}},
    {"10.0.0.128/25", "10.0.0.128/25", {"10.0.0.128", "10.0.0.255"}, {"10.0.0.127"}},
    {"255.255.255.255/32", "255.255.255.255/32", {"255.255.255.255"}, {"255.255.255.254"}},
    {"2001:db8::/32", "2001:db8::/32", {"2001:db8::1", "2001:db8:ffff:ffff::"}, {"2001:db9::1", "2001:db7::"}},
    {"::1/128", "::1/128", {"::1"}, {"::2", "::", "127.0.0.1"}},
    {"::1", "::1/128", {"::1"}, {"::2"}},
    {"fe80::/10", "fe80::/10", {"fe80::1", "febf::1"}, {"fec0::1", "fe7f::1"}},
    {"2001:db8:0:1::/127", "2001:db8:0:1::/127", {"2001:db8:0:1::", "2001:db8:0:1::1"}, {"2001:db8:0:1::2"}},
    /* An IPv4-mapped rule is an IPv4 rule. */
    {"::ffff:10.0.0.0/104", "10.0.0.0/8", {"10.9.9.9", "::ffff:10.9.9.9"}, {"11.0.0.1", "::a00:1"}},
    {"::ffff:0:0/96", "0.0.0.0/0", {"1.2.3.4", "::ffff:1.2.3.4"}, {"::1"}},
    {"::ffff:7f00:1", "127.0.0.1/32", {"127.0.0.1"}, {"127.0.0.2"}},
    /* Below /96 it covers more than IPv4: an IPv6 rule, which no IPv4 client matches. */
    {"::/64", "::/64", {"::1", "::2"}, {"1.2.3.4", "::ffff:1.2.3.4"}},
};

static const char *const bad[] = {
    "10.0.0.1/8",        /* host bits */
    "10.0.0.0/33",       /* mask too long */
    "::/129",
    "10.0.0.0/",
    "10.0.0.0/-1",
    "10.0.0.0/+8",
    "10.0.0.0/08",       /* leading zero */
    "10.0.0.0/8/8",
    "10.0.0.0/a",
    "10.0.0.0/1000",
    "2001:db8::1/32",    /* host bits */
    "::1/0",
    "1.2.3.4/0",
    "1.2.3",
    "1.2.3.4.5",
    "01.2.3.4",
    "256.1.1.1",
    "1.2.3.4 junk",
    "host.example",
    "fe80::1%eth0",
    "/8",
    "*",
    "10.0.0.0/8;",
    "::ffff:10.0.0.1/104", /* host bits in the mapped form */
    "1.2.3.4\t",
};

static void test_match(void)
{
	for (size_t i = 0; i < sizeof(matches) / sizeof(matches[0]); i++) {
		const struct match_case *m = &matches[i];
		struct netacl acl;
		char text[NETACL_MAX_TEXT];

		CHECKF(netacl_parse(&acl, m->list, "SERVER_ALLOWED_IPS", err, sizeof(err)) == 0, "%s: %s",
		       m->list, err);
		CHECKF(netacl_format(&acl, text, sizeof(text)) >= 0 && strcmp(text, m->printed) == 0,
		       "%s printed as %s", m->list, text);
		for (size_t k = 0; k < 6 && m->in[k]; k++)
			CHECKF(allows(&acl, m->in[k]), "%s should allow %s", m->list, m->in[k]);
		for (size_t k = 0; k < 6 && m->out[k]; k++)
			CHECKF(!allows(&acl, m->out[k]), "%s should refuse %s", m->list, m->out[k]);
		/* What is printed parses back to the same rules. */
		struct netacl again;

		CHECK(netacl_parse(&again, text, "X", err, sizeof(err)) == 0 && again.n == acl.n &&
		      memcmp(again.rule, acl.rule, sizeof(acl.rule[0]) * acl.n) == 0);
	}
}

static void test_bad(void)
{
	struct netacl acl;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(netacl_parse(&acl, "192.0.2.0/24", "SERVER_ALLOWED_IPS", err, sizeof(err)) == 0);
		CHECKF(netacl_parse(&acl, bad[i], "SERVER_ALLOWED_IPS", err, sizeof(err)) == -1, "%s", bad[i]);
		CHECKF(strncmp(err, "SERVER_ALLOWED_IPS: \"", 21) == 0, "%s: %s", bad[i], err);
		/* Refused lists leave the rules as they were. */
		CHECK(acl.n == 1 && allows(&acl, "192.0.2.9") && !allows(&acl, "192.0.3.1"));
	}
	CHECK(netacl_parse(&acl, "10.0.0.1/8", "SERVER_ALLOWED_IPS", err, sizeof(err)) == -1);
	CHECKF(strcmp(err, "SERVER_ALLOWED_IPS: \"10.0.0.1/8\" has bits set past its prefix length "
			   "(write the network address)") == 0, "%s", err);
	CHECK(netacl_parse(&acl, "10.0.0.0/33", "SERVER_ALLOWED_IPS", err, sizeof(err)) == -1);
	CHECKF(strstr(err, "bad prefix length (0-32") != NULL, "%s", err);
}

static void test_limits(void)
{
	char list[NETACL_MAX_RULES * 20 + 32];
	struct netacl acl;
	size_t n = 0;

	for (unsigned i = 0; i < NETACL_MAX_RULES; i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "10.0.%u.0/24 ", i);
	CHECKF(netacl_parse(&acl, list, "SERVER_ALLOWED_IPS", err, sizeof(err)) == 0, "%s", err);
	CHECK(acl.n == NETACL_MAX_RULES && allows(&acl, "10.0.63.1") && !allows(&acl, "10.0.64.1"));
	snprintf(list + n, sizeof(list) - n, "10.1.0.0/16");
	CHECK(netacl_parse(&acl, list, "SERVER_ALLOWED_IPS", err, sizeof(err)) == -1);
	CHECKF(strcmp(err, "SERVER_ALLOWED_IPS: more than 64 addresses or networks") == 0, "%s", err);

	/* A family the list cannot speak of (a unix socket) is refused, unless the list is empty. */
	struct sockaddr_storage ss = {.ss_family = AF_UNIX};

	CHECK(!netacl_allows(&acl, (struct sockaddr *)&ss, sizeof(ss)));
	/* A length too short for the family is refused, not read past. */
	peer("10.0.0.1", &ss);
	CHECK(!netacl_allows(&acl, (struct sockaddr *)&ss, sizeof(struct sockaddr_in) - 1));
	CHECK(netacl_parse(&acl, "", "SERVER_ALLOWED_IPS", err, sizeof(err)) == 0 && acl.n == 0);
	ss.ss_family = AF_UNIX;
	CHECK(netacl_allows(&acl, (struct sockaddr *)&ss, sizeof(ss)));
	/* A long item is quoted back cut short. */
	memset(list, '1', 300);
	list[300] = '\0';
	CHECK(netacl_parse(&acl, list, "SERVER_ALLOWED_IPS", err, sizeof(err)) == -1);
	CHECKF(strlen(err) < 200 && strstr(err, "...\"") != NULL, "%s", err);
}

int main(void)
{
	test_match();
	test_bad();
	test_limits();
	return check_done("netacl");
}
