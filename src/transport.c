/*
 * transport.c - the transport registry: find a transport's ops table by name.
 */
#include "cnio_config.h"
#include "common.h"
#include "transport.h"

#include <string.h>

static const struct cnio_transport_ops *const transport_registry[] = {
    &cnio__tcp_ops,
#ifdef HAVE_LIBFABRIC
    &cnio__ofi_ops,
    &cnio__udp_ops,
#endif
};

const struct cnio_transport_ops *cnio__transport_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < CNIO_ARRAY_LEN(transport_registry); i++)
        if (strcmp(transport_registry[i]->name, name) == 0)
            return transport_registry[i];
    return NULL;
}

int cnio__transport_open(struct cnio_stack *st, const char *name, const struct cnio_hints *h,
                         struct cnio_tp **out)
{
    const struct cnio_transport_ops *ops = cnio__transport_find(name);

    if (!ops || ops->size < sizeof(*ops))
        return -CNIO_ERR_NOTSUP;
    return ops->open(st, h, out);
}

int cnio__tp_notsup_connect(struct cnio_tp *tp, const struct cnio_peer *peer,
                            struct cnio_conn **out)
{
    return -CNIO_ERR_NOTSUP;
}

int cnio__tp_notsup_connect_poll(struct cnio_conn *c)
{
    return -CNIO_ERR_NOTSUP;
}

ssize_t cnio__tp_notsup_xfer(struct cnio_conn *c, const struct iovec *iov, int n)
{
    return -CNIO_ERR_NOTSUP;
}

int cnio__tp_notsup_progress(struct cnio_tp *tp, int timeout_ms)
{
    return -CNIO_ERR_NOTSUP;
}

int cnio__tp_notsup_fd(struct cnio_conn *c)
{
    return -CNIO_ERR_NOTSUP;
}

int cnio__tp_progress_none(struct cnio_tp *tp, int timeout_ms)
{
    return 0;
}

int cnio__tp_notsup_msend(struct cnio_conn *c, const struct cnio_tp_frame *f)
{
    return -CNIO_ERR_NOTSUP;
}

int cnio__tp_notsup_mpoll(struct cnio_conn *c, struct cnio_tp_event *ev, int max)
{
    return -CNIO_ERR_NOTSUP;
}

const char *cnio__tp_provider_name(struct cnio_tp *tp)
{
    return tp->ops->name;
}
