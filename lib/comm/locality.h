/* The PCI locality of the comm's device: a line for the topology graph,
 * and the NIC the transports listen on when several could serve. */
#ifndef WEFT_COMM_LOCALITY_H
#define WEFT_COMM_LOCALITY_H

struct weftComm;

/* After the device is open and the bootstrap joined: fills c->dev_where
 * and, unless WEFT_SOCKET_IFNAME is set, c->net_local_ip with the address
 * of the usable interface nearest the device when it is nearer than the
 * bootstrap interface. Logs the choice at INFO. Never fails: locality is
 * a preference. */
void weft_comm_locality(struct weftComm *c);

#endif
