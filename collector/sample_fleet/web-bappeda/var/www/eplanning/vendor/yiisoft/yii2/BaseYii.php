<?php
namespace yii;
class BaseYii
{
    public static function getVersion()
    {
        return '2.0.49.3';
    }
}
