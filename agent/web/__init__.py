"""The desk's local web UI (`motcua ui`): server-rendered pages on localhost, Vietnamese first, English switch."""
