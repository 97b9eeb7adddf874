"""The table of implemented AFD operations: wire name -> handler(context, request) -> response."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fraudhawk.catalog import (
    entity_types,
    event_types,
    external_models,
    kms,
    labels,
    lists,
    outcomes,
    tags,
    variables,
    version_numbers,
)
from fraudhawk.context import Context
from fraudhawk.detectors import detectors, rule_versions
from fraudhawk.detectors import versions as detector_versions
from fraudhawk.events import deletion, imports, single
from fraudhawk.predictions import batch, realtime, records
from fraudhawk.training import models, versions

Handler = Callable[[Context, dict[str, Any]], dict[str, Any]]
Staged = realtime.Staged

# Operations whose work ends in a small write that a server commits together with other requests'.
WouldBlock = realtime.WouldBlock
STAGED: dict[str, Callable[..., Staged]] = {
    "GetEventPrediction": realtime.stage_event_prediction,
}

OPERATIONS: dict[str, Handler] = {
    "PutEntityType": entity_types.put_entity_type,
    "GetEntityTypes": entity_types.get_entity_types,
    "DeleteEntityType": entity_types.delete_entity_type,
    "PutEventType": event_types.put_event_type,
    "GetEventTypes": event_types.get_event_types,
    "DeleteEventType": event_types.delete_event_type,
    "CreateVariable": variables.create_variable,
    "BatchCreateVariable": variables.batch_create_variable,
    "GetVariables": variables.get_variables,
    "BatchGetVariable": variables.batch_get_variable,
    "UpdateVariable": variables.update_variable,
    "DeleteVariable": variables.delete_variable,
    "PutLabel": labels.put_label,
    "GetLabels": labels.get_labels,
    "DeleteLabel": labels.delete_label,
    "PutOutcome": outcomes.put_outcome,
    "GetOutcomes": outcomes.get_outcomes,
    "DeleteOutcome": outcomes.delete_outcome,
    "CreateList": lists.create_list,
    "UpdateList": lists.update_list,
    "GetListElements": lists.get_list_elements,
    "GetListsMetadata": lists.get_lists_metadata,
    "DeleteList": lists.delete_list,
    "PutExternalModel": external_models.put_external_model,
    "GetExternalModels": external_models.get_external_models,
    "DeleteExternalModel": external_models.delete_external_model,
    "TagResource": tags.tag_resource,
    "UntagResource": tags.untag_resource,
    "ListTagsForResource": tags.list_tags_for_resource,
    "PutKMSEncryptionKey": kms.put_kms_encryption_key,
    "GetKMSEncryptionKey": kms.get_kms_encryption_key,
    "SendEvent": single.send_event,
    "GetEvent": single.get_event,
    "UpdateEventLabel": single.update_event_label,
    "DeleteEvent": single.delete_event,
    "DeleteEventsByEventType": deletion.delete_events_by_event_type,
    "GetDeleteEventsByEventTypeStatus": deletion.get_delete_events_by_event_type_status,
    "CreateBatchImportJob": imports.create_batch_import_job,
    "GetBatchImportJobs": imports.get_batch_import_jobs,
    "CancelBatchImportJob": imports.cancel_batch_import_job,
    "DeleteBatchImportJob": imports.delete_batch_import_job,
    "CreateModel": models.create_model,
    "GetModels": models.get_models,
    "UpdateModel": models.update_model,
    "DeleteModel": models.delete_model,
    "CreateModelVersion": versions.create_model_version,
    "UpdateModelVersion": versions.update_model_version,
    "GetModelVersion": versions.get_model_version,
    "DescribeModelVersions": versions.describe_model_versions,
    "UpdateModelVersionStatus": versions.update_model_version_status,
    "DeleteModelVersion": versions.delete_model_version,
    "PutDetector": detectors.put_detector,
    "GetDetectors": detectors.get_detectors,
    "DescribeDetector": detectors.describe_detector,
    "DeleteDetector": detectors.delete_detector,
    "CreateDetectorVersion": detector_versions.create_detector_version,
    "GetDetectorVersion": detector_versions.get_detector_version,
    "UpdateDetectorVersion": detector_versions.update_detector_version,
    "UpdateDetectorVersionMetadata": detector_versions.update_detector_version_metadata,
    "UpdateDetectorVersionStatus": detector_versions.update_detector_version_status,
    "DeleteDetectorVersion": detector_versions.delete_detector_version,
    "CreateRule": rule_versions.create_rule,
    "GetRules": rule_versions.get_rules,
    "UpdateRuleMetadata": rule_versions.update_rule_metadata,
    "UpdateRuleVersion": rule_versions.update_rule_version,
    "DeleteRule": rule_versions.delete_rule,
    "GetEventPrediction": realtime.get_event_prediction,
    "GetEventPredictionMetadata": records.get_event_prediction_metadata,
    "ListEventPredictions": records.list_event_predictions,
    "CreateBatchPredictionJob": batch.create_batch_prediction_job,
    "GetBatchPredictionJobs": batch.get_batch_prediction_jobs,
    "CancelBatchPredictionJob": batch.cancel_batch_prediction_job,
    "DeleteBatchPredictionJob": batch.delete_batch_prediction_job,
}

#: What can be tagged: the resource type in an ARN -> whether (conn, path) names an existing resource.
TAGGABLE: dict[str, tags.Taggable] = {
    entity_types.ENTITY_TYPES.arn_type: entity_types.ENTITY_TYPES.taggable,
    labels.LABELS.arn_type: labels.LABELS.taggable,
    outcomes.OUTCOMES.arn_type: outcomes.OUTCOMES.taggable,
    event_types.ARN_TYPE: event_types.taggable,
    variables.ARN_TYPE: variables.taggable,
    lists.ARN_TYPE: lists.taggable,
    external_models.ARN_TYPE: external_models.taggable,
    models.ARN_TYPE: models.taggable,
    version_numbers.ARN_TYPE: versions.taggable,
    detectors.ARN_TYPE: detectors.taggable,
    detector_versions.ARN_TYPE: detector_versions.taggable,
    rule_versions.ARN_TYPE: rule_versions.taggable,
    imports.ARN_TYPE: imports.taggable,
    batch.ARN_TYPE: batch.taggable,
}
