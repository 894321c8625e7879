//! `group.*` methods.

use serde::{Deserialize, Serialize};
use thrum_core::views::{GroupDetail, GroupMemberInfo, GroupSummary};

use super::{Empty, methods};

methods! {
    Create = "group.create", CreateParams => CreateResult;
    Delete = "group.delete", NameParams => DeleteResult;
    MemberAdd = "group.member.add", MemberParams => MemberResult;
    MemberRemove = "group.member.remove", MemberParams => MemberResult;
    List = "group.list", Empty => ListResult, anonymous, idempotent;
    Info = "group.info", NameParams => GroupDetail, anonymous, idempotent;
    Members = "group.members", NameParams => MembersResult, anonymous, idempotent;
}

/// The built-in group that holds every agent.
pub const EVERYONE: &str = "everyone";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateParams {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateResult {
    pub group_id: String,
    pub name: String,
    pub created_at: String,
    pub created_by: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NameParams {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub expand: bool,
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub delete_messages: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeleteResult {
    pub name: String,
    pub deleted_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MemberParams {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub member_type: String,
    #[serde(default)]
    pub member_value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MemberResult {
    pub group: String,
    pub member_type: String,
    pub member_value: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListResult {
    pub groups: Vec<GroupSummary>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MembersResult {
    pub members: Vec<GroupMemberInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expanded: Vec<String>,
}
