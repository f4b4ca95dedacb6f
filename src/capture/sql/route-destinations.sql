-- Who receives datagrams on a capture's route ports, and from how many senders. In a capture taken on a mirroring
-- relay's host, the relay's address hears from every device; each backend hears the relay's forwarded copies, from
-- the relay alone (one address, a few ports). From the capture's flows (capture_flows: capture-flows.sql).
SELECT a.ip, p.dst_address AS address_id, sum(p.datagrams)::BIGINT AS datagrams,
       count(DISTINCT (p.src_address, p.src_port)) AS senders,
       count(DISTINCT p.src_address) AS sender_addresses
FROM capture_flows p
JOIN capture_addresses a ON a.capture_id = $capture_id AND a.address_id = p.dst_address
WHERE list_contains($route_ports::INTEGER[], p.dst_port)
GROUP BY ALL
-- Devices come from many addresses; a relay forwards from its own one (or few), whatever the number of its sockets.
ORDER BY sender_addresses DESC, senders DESC, datagrams DESC, a.ip;
