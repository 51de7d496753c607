"""Pages (``layouts/ops``, ``layouts/public``) and the helpers they share."""
