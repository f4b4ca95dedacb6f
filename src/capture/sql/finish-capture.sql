-- What an import or a recording found, written when it finishes.
UPDATE captures SET format = $format, frames = $frames, udp_datagrams = $udp, kept_datagrams = $kept,
  truncated_datagrams = $truncated, non_udp_frames = $non_udp, unsupported_frames = $unsupported,
  route_ports = $route_ports::INTEGER[], first_ts_ns = $first, last_ts_ns = $last, partial = $partial,
  error = $error, decode_stats = $decode_stats, finished = true
WHERE capture_id = $id;
