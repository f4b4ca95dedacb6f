/**
 * Headers that belong to one connection (RFC 9110 7.6.1), never carried to the next hop as they are. Each HTTP piece
 * adds its own to these: the proxy the proxy-authentication pair, the tap and the replay `host`, the replay the ones a
 * client sets itself.
 */
export const CONNECTION_HEADERS: readonly string[] = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];
