# Two buckets under their own customer-managed keys: listing photos (browser uploads by
# presigned POST, served through CloudFront) and tour recordings (written by Chime media
# pipelines). Both refuse plain HTTP, block public access and log access to a third bucket.

resource "aws_s3_bucket" "access_logs" {
  #checkov:skip=CKV_AWS_145:S3 server access logs can only be delivered to a bucket encrypted with S3-managed keys.
  #checkov:skip=CKV_AWS_144:Access logs are kept in the region they describe.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to a new log object.
  #checkov:skip=CKV_AWS_18:This is the access-log bucket; logging it into itself would loop.
  bucket = "${local.name}-s3-access-logs-${local.account_id}"
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket                  = aws_s3_bucket.access_logs.id
  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = true
  restrict_public_buckets = true
}

# CloudFront's standard logs are delivered with an object ACL, which needs ACLs enabled
# on this bucket (and only this one).
resource "aws_s3_bucket_ownership_controls" "access_logs" {
  #checkov:skip=CKV2_AWS_65:CloudFront standard logging writes with an object ACL; this log bucket alone keeps ACLs, the data buckets enforce bucket ownership.
  bucket = aws_s3_bucket.access_logs.id
  rule {
    object_ownership = "BucketOwnerPreferred"
  }
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

# S3 delivers server access logs only to a bucket encrypted with S3-managed keys.
resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

data "aws_iam_policy_document" "access_logs" {
  statement {
    sid       = "S3ServerAccessLogsWrite"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs.arn}/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.access_logs.arn, "${aws_s3_bucket.access_logs.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  policy = data.aws_iam_policy_document.access_logs.json
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    id     = "expire"
    status = "Enabled"
    filter {}
    expiration {
      days = 400
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

locals {
  buckets = {
    photos = {
      name = "realty-listing-photos-${var.environment}"
      key  = aws_kms_key.photos.arn
    }
    recordings = {
      name = "realty-tour-recordings-${var.environment}"
      key  = aws_kms_key.recordings.arn
    }
  }
}

resource "aws_s3_bucket" "data" {
  #checkov:skip=CKV_AWS_144:Chime writes recordings in the meeting's region and photos are served through CloudFront; versioning with 30 days of old versions covers deletion, a second region is not part of the seed.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to object events: listings confirms an upload through its API, media learns of recordings from Chime's events.
  for_each = local.buckets
  bucket   = each.value.name
}

resource "aws_s3_bucket_public_access_block" "data" {
  for_each                = local.buckets
  bucket                  = aws_s3_bucket.data[each.key].id
  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "data" {
  for_each = local.buckets
  bucket   = aws_s3_bucket.data[each.key].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "data" {
  for_each = local.buckets
  bucket   = aws_s3_bucket.data[each.key].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "data" {
  for_each = local.buckets
  bucket   = aws_s3_bucket.data[each.key].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = each.value.key
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_logging" "data" {
  for_each      = local.buckets
  bucket        = aws_s3_bucket.data[each.key].id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "${each.key}/"
}

resource "aws_s3_bucket_lifecycle_configuration" "data" {
  for_each = local.buckets
  bucket   = aws_s3_bucket.data[each.key].id

  # A replaced or deleted photo or recording stays recoverable for 30 days (RUNBOOK.md).
  rule {
    id     = "noncurrent-and-uploads"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

# The same rules listings sets at start (storage.py: browser POST uploads and GETs).
resource "aws_s3_bucket_cors_configuration" "photos" {
  bucket = aws_s3_bucket.data["photos"].id
  cors_rule {
    allowed_methods = ["POST", "GET"]
    allowed_origins = var.photo_cors_origins
    allowed_headers = ["*"]
    max_age_seconds = 3000
  }
}

# Statements every data bucket has: TLS only, and uploads must be SSE-KMS.
data "aws_iam_policy_document" "bucket_baseline" {
  for_each = local.buckets

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.data[each.key].arn,
      "${aws_s3_bucket.data[each.key].arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

data "aws_iam_policy_document" "photos_bucket" {
  source_policy_documents = [data.aws_iam_policy_document.bucket_baseline["photos"].json]

  # CloudFront reads through Origin Access Control, for this distribution only.
  statement {
    sid       = "CloudFrontReadsPhotos"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.data["photos"].arn}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudfront_distribution.photos.arn]
    }
  }
}

# What Amazon Chime SDK media capture and concatenation pipelines need on their sink:
# write (PutObject, PutObjectAcl) and read back (GetObject, ListBucket), only for this
# account's Chime resources (Chime SDK Developer Guide, "Creating an Amazon S3 bucket for
# media capture pipelines" and "Building a media concatenation pipeline").
data "aws_iam_policy_document" "recordings_bucket" {
  source_policy_documents = [data.aws_iam_policy_document.bucket_baseline["recordings"].json]

  statement {
    sid = "AWSChimeMediaCaptureBucketPolicy"
    actions = [
      "s3:PutObject",
      "s3:PutObjectAcl",
      "s3:GetObject",
      "s3:ListBucket",
    ]
    resources = [
      aws_s3_bucket.data["recordings"].arn,
      "${aws_s3_bucket.data["recordings"].arn}/*",
    ]
    principals {
      type        = "Service"
      identifiers = ["mediapipelines.chime.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:chime:*:${local.account_id}:*"]
    }
  }

  # With object-level SSE-KMS the pipeline writes as the sink role, which the bucket must
  # allow like the service principal.
  statement {
    sid       = "ChimeCaptureSinkRoleWrites"
    actions   = ["s3:PutObject", "s3:PutObjectAcl", "s3:GetObject", "s3:ListBucket"]
    resources = [aws_s3_bucket.data["recordings"].arn, "${aws_s3_bucket.data["recordings"].arn}/*"]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.capture_sink.arn]
    }
  }
}

# The role a capture pipeline writes SSE-KMS objects with (SinkIamRoleArn of
# CreateMediaCapturePipeline, MEDIA_RECORDINGS_SINK_ROLE_ARN): Chime assumes it, and it may
# only put objects into the recordings bucket under the recordings key.
data "aws_iam_policy_document" "capture_sink_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["mediapipelines.chime.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:chime:*:${local.account_id}:*"]
    }
  }
}

resource "aws_iam_role" "capture_sink" {
  name               = "${local.name}-media-capture-sink"
  description        = "Chime media capture pipelines write tour recordings with this role"
  assume_role_policy = data.aws_iam_policy_document.capture_sink_trust.json
}

data "aws_iam_policy_document" "capture_sink" {
  statement {
    sid       = "WriteRecordings"
    actions   = ["s3:PutObject", "s3:PutObjectAcl", "s3:GetObject", "s3:ListBucket"]
    resources = [aws_s3_bucket.data["recordings"].arn, "${aws_s3_bucket.data["recordings"].arn}/*"]
  }

  statement {
    sid       = "RecordingsKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.recordings.arn]
  }
}

resource "aws_iam_role_policy" "capture_sink" {
  name   = "write-recordings"
  role   = aws_iam_role.capture_sink.id
  policy = data.aws_iam_policy_document.capture_sink.json
}

# Lets media pipelines join meetings on the account's behalf (Chime SDK Developer Guide).
resource "aws_iam_service_linked_role" "chime_media_pipelines" {
  aws_service_name = "mediapipelines.chime.amazonaws.com"
}

# Lets Chime call Amazon Transcribe for a meeting's live transcription.
resource "aws_iam_service_linked_role" "chime_transcription" {
  aws_service_name = "transcription.chime.amazonaws.com"
}

resource "aws_s3_bucket_policy" "photos" {
  bucket = aws_s3_bucket.data["photos"].id
  policy = data.aws_iam_policy_document.photos_bucket.json
}

resource "aws_s3_bucket_policy" "recordings" {
  bucket = aws_s3_bucket.data["recordings"].id
  policy = data.aws_iam_policy_document.recordings_bucket.json
}
