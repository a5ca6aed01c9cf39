"""CdnBucket: a private bucket behind Cloud CDN or CloudFront (SeaweedFS on existing clusters)."""
