"""Video in, cart timelines out: detection, shopper tracking, hands, shelf-zone events."""
