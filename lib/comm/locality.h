/* The PCI locality of the comm's device: a line for the topology graph,
 * and the NIC the transports listen on when several could serve. */
#ifndef WEFT_COMM_LOCALITY_H
#define WEFT_COMM_LOCALITY_H

struct weftComm;

/* After the device is open: fills c->dev_where (sent to every rank with
 * the layout) and logs it at INFO. */
void weft_comm_locality(struct weftComm *c);
/* After the layout, before connecting: unless WEFT_SOCKET_IFNAME is set,
 * sets c->net_local_ip to the address of the usable interface nearest a
 * PCI device when it is strictly nearer than the bootstrap interface and
 * the comm is within one site (peers in other sites reach this host through
 * the interface that routes to the root). Logs the choice at INFO. Never
 * fails: locality is a preference. */
void weft_comm_choose_nic(struct weftComm *c);

#endif
