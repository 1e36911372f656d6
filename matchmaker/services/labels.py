"""Chinese labels for codes: what pages, exports and imports show instead of a raw code."""

PROVIDER_STATUS_LABELS = {
    "draft": "未申请",
    "applied": "待审核",
    "approved": "已入库",
    "rejected": "已驳回",
    "suspended": "已暂停",
    "revoked": "已撤销",
    "expired": "已到期",
}
PROJECT_STATUS_LABELS = {
    "submitted": "已申报，待形式审查",
    "returned": "退回补正",
    "accepted": "形式审查通过，待评审",
    "reviewed": "已评审，待公示",
    "publicity": "公示中",
    "selected": "已入选",
    "not_selected": "不予入选",
    "completed": "已完工",
}
APPEAL_STATUS_LABELS = {"pending": "待处理", "upheld": "申诉成立", "dismissed": "申诉驳回"}
SOLUTION_STATUS_LABELS = {"draft": "草稿", "published": "已发布", "withdrawn": "已撤回"}
NEED_STATUS_LABELS = {"open": "对接中", "closed": "已关闭"}
AUDIT_LABELS = {
    "export.needs": "导出需求清单",
    "export.providers": "导出服务商名录",
    "export.solutions": "导出解决方案",
    "export.dockings": "导出对接记录",
    "export.projects": "导出技改项目白名单",
    "project.submit": "技改项目申报",
    "project.resubmit": "技改项目补正后重新申报",
    "project.accept": "技改项目形式审查通过",
    "project.return": "技改项目退回补正",
    "project.score": "技改项目评审打分",
    "project.publicise": "技改项目开始公示",
    "project.select": "技改项目入选",
    "project.not_select": "技改项目不予入选",
    "project.object": "技改项目公示异议",
    "project.appeal": "技改项目申诉",
    "project.appeal_upheld": "技改项目申诉成立",
    "project.appeal_dismissed": "技改项目申诉驳回",
    "project.progress": "技改项目报告进展",
    "project.complete": "技改项目报告完工",
    "import.catalogue": "批量导入服务商与方案",
    "api_key.issue": "签发 API 密钥",
    "api_key.revoke": "吊销 API 密钥",
    "dashboard.rank": "批量计算匹配",
    "account.password_change": "修改密码",
    "account.password_reset": "通过邮件重置密码",
    "account.disable": "停用账号",
    "account.enable": "启用账号",
    "account.force_reset": "强制重置密码",
    "mail.requeue": "重新发送邮件",
}
SIGNAL_LABELS = {
    "semantic": "语义相似度",
    "lexical": "关键词匹配",
    "industry": "行业适配",
    "size": "规模适配",
    "tags": "能力标签",
    "domain": "服务领域",
    "maturity": "成熟度适配",
    "rating": "服务商评星（先验）",
}
DEPLOYMENT_LABELS = {"saas": "SaaS 云服务", "private": "私有化部署", "hybrid": "混合部署", "onsite": "现场实施"}
